"""The Super-LIP comparison: an experiment with a ``comparison:`` section (planned and run by the
experiment study, :mod:`fpgasim.study.experiment.study`)."""
