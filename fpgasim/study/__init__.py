"""fpgasim.study layer."""
