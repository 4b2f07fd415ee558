"""`krake up`: the API server and every controller in one process."""

import sys


def main() -> None:
    sys.exit("krake: not implemented yet (the API server and controller issues build it)")
