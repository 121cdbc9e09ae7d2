"""Design-space sweeps: spec, points, evaluation, executors, store and reports."""
