"""coursehub grading service: a JupyterHub-managed service that autogrades notebooks."""

__version__ = "0.1.0"
