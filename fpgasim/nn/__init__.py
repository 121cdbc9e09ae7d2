"""fpgasim.nn layer."""
