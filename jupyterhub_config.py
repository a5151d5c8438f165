"""JupyterHub configuration for coursehub: ``jupyterhub -f jupyterhub_config.py``.

Everything lives in ``hub_config/``; operators change the Hub through ``COURSEHUB_*``
environment variables (see ``hub_config/settings.py``), and any option of the Hub in a
file of their own named by ``COURSEHUB_HUB_CONFIG``.
"""

import signal
from pathlib import Path

from hub_config import Settings, apply_all
from hub_config.shutdown import skip_final_collections

# A Hub started in the background by a script inherits SIGINT ignored, and so would the
# services it starts before installing its own handlers: they would then need the Hub's
# 30 s escalation to stop. Restore the default so shutdown stops them at once.
signal.signal(signal.SIGINT, signal.default_int_handler)
# once everything has stopped, the Hub exits without a last walk over its objects
skip_final_collections()

c = get_config()  # noqa: F821 (provided by JupyterHub when it loads this file)
# defaults (state, courses) point into the checkout holding this file
settings = Settings.from_environ(repo_dir=Path(__file__).resolve().parent)
apply_all(c, settings)
# an operator's own options, over ours (COURSEHUB_HUB_CONFIG)
if settings.hub_config_file:
    load_subconfig(str(settings.hub_config_file))  # noqa: F821 (as get_config)
