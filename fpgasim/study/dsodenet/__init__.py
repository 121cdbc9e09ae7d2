"""The dsODENet / rODENet study (``ode_study:`` documents)."""
