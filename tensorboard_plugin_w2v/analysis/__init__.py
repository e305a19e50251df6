"""Pure functions on vectors: queries, evaluation, comparison."""
