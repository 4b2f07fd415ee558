"""`python -m krake_api` runs the API server, like `krake-api`."""

from krake_api.server import main

main()
