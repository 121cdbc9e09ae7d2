"""fpgasim.kernels layer."""
