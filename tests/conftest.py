"""Shared pytest configuration: hypothesis profiles (fast for CI, long on demand)."""

import os

from hypothesis import HealthCheck, settings

# `ci` draws the same examples on every run (derandomize): the suite that passed here is the suite
# CI runs, and a red build is a change, not a new draw. `long` explores with fresh random examples;
# whatever it finds is kept as an explicit test.
settings.register_profile("ci", max_examples=40, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
