"""Things written for other tools: Projector exports, Keras helpers, training logs."""
