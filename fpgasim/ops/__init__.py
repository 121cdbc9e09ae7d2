"""fpgasim.ops layer."""
