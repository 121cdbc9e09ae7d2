"""Shared by every study: atomic result files, figures, documents given as data and dotted sweep keys."""
