"""`krake-api`: composition of storage, registry, gRPC services and gateway."""

import sys


def main() -> None:
    sys.exit("krake-api: not implemented yet (the API server issue builds it)")
