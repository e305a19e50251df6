"""From a file to a served model: discovery, loading, vocabulary cache, conversions, the store."""
