"""The Super-LIP comparison: an experiment with a ``comparison:`` section."""
