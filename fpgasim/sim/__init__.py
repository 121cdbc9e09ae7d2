"""fpgasim.sim layer."""
