"""Command-line layer: a thin shell over :mod:`fpgasim.study`; maps errors to exit codes."""

__all__: list[str] = []
