"""`python -m krake_cli` runs krakectl."""

from krake_cli.main import main

main()
