"""The LCP study: branch-parallel split models and the model-parallel baseline on clusters of devices."""
