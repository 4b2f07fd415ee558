"""`krake-controller NAME`: runs one controller against the API."""

import sys


def main() -> None:
    sys.exit("krake-controller: not implemented yet (the controller runtime issue builds it)")
