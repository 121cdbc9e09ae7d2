"""Design-space sweeps over any registered study: spec, points, evaluation, executors, store, reports."""
