"""The coursehub extension of a learner's Jupyter server."""
