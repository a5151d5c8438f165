"""How the coursehub Hub is assembled.

``jupyterhub_config.py`` does ``apply_all(c, Settings.from_environ())``; each concern
has its own module and ``apply_<concern>(c, settings)`` function (see settings.py).
"""

from .settings import Settings, apply_all

__all__ = ["Settings", "apply_all"]
