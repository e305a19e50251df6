"""TensorBoard integration: the loader and flags, the plugin and its routes, request parsing,
the mapping of domain errors to HTTP, the catalog of the logdir, evaluation jobs."""
