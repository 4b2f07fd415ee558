"""`python -m krake_controllers NAME` runs one controller, like `krake-controller NAME`."""

from krake_controllers.main import main

main()
