"""Cost models: pure functions over numpy arrays, one module per concept/method."""
