"""JupyterHub configuration for coursehub: ``jupyterhub -f jupyterhub_config.py``.

Everything lives in ``hub_config/``; operators change the Hub through ``COURSEHUB_*``
environment variables (see ``hub_config/settings.py``).
"""

import os
import sys

# the Hub and the grader run from this checkout; learners' servers use the installed copy
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hub_config import Settings, apply_all  # noqa: E402

c = get_config()  # noqa: F821 (provided by JupyterHub when it loads this file)
apply_all(c, Settings.from_environ())
