"""The plain experiment: schema, planning (setup), emulation, redistribution, run and report."""
