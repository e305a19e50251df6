"""TensorBoard integration: the loader and flags, the plugin's routes, request parsing."""
