"""fpgasim.mapping layer."""
