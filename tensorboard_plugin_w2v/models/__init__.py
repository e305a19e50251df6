"""From a file to a served model: discovery, loading (one reader per format), norms, the
vocabulary cache, conversions and private copies, cache housekeeping, the store."""
