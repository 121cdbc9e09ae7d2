"""The plain experiment: schema, planning (setup), emulation, redistribution, run and report.

:data:`~fpgasim.study.experiment.study.EXPERIMENT_STUDY` is its registered study.
"""
