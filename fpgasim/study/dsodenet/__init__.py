"""The dsODENet / rODENet study (``ode_study:`` documents): schema, tables, accuracy, timing, report.

:data:`~fpgasim.study.dsodenet.study.DSODENET_STUDY` is its registered study.
"""
