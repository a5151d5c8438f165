"""The coursehub extension of a learner's Jupyter server.

Enabled by ``jupyter_server_config.d/coursehub_extension.json``; see
:class:`coursehub_extension.app.CoursehubExtensionApp`.
"""


def _jupyter_server_extension_points():
    from .app import CoursehubExtensionApp

    return [{"module": "coursehub_extension.app", "app": CoursehubExtensionApp}]
