"""Pure functions on vectors: queries, analogy arithmetic, evaluation on benchmarks, comparison."""
