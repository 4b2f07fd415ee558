"""krakectl and the `krake` launcher."""
