"""fpgasim.hw layer."""
