"""Shared by every study: atomic result files and figures."""
