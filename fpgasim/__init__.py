"""fpgasim: emulate multi-FPGA DNN accelerators — bit-exact values and a cycle-level timeline from one run."""

__version__ = "0.1.0"
__all__ = ["__version__"]
