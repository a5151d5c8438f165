"""JupyterHub configuration for coursehub: ``jupyterhub -f jupyterhub_config.py``.

Everything lives in ``hub_config/``; operators change the Hub through ``COURSEHUB_*``
environment variables (see ``hub_config/settings.py``).
"""

from pathlib import Path

from hub_config import Settings, apply_all

c = get_config()  # noqa: F821 (provided by JupyterHub when it loads this file)
# defaults (state, courses) point into the checkout holding this file
apply_all(c, Settings.from_environ(repo_dir=Path(__file__).resolve().parent))
