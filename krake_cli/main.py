"""`krakectl`: the command-line client."""

import sys


def main() -> None:
    sys.exit("krakectl: not implemented yet (the krakectl issue builds it)")
