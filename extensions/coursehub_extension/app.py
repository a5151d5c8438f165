"""The coursehub extension application, loaded into each learner's Jupyter server."""

import asyncio
import atexit
import gc

from jupyter_server.extension.application import ExtensionApp
from traitlets import Instance, default

from .ai_handlers import default_handlers as ai_handlers
from .grader_client import GraderClient
from .handlers import default_handlers
from .openapi_handlers import default_handlers as openapi_handlers
from .practice_handlers import default_handlers as practice_handlers


class CoursehubExtensionApp(ExtensionApp):
    """Brings the grading service to the learner: questions, opening, submitting.

    Serves the REST API under ``<base_url>coursehub/api/`` (in JupyterHub:
    ``/user/<name>/coursehub/api/``). Configure the grader connection with
    ``c.GraderClient.grader_url`` / ``api_token`` (or the COURSEHUB_GRADER_URL and
    JUPYTERHUB_API_TOKEN environment variables).
    """

    name = "coursehub"
    classes = [*ExtensionApp.classes, GraderClient]

    grader_client = Instance(GraderClient, help="The client of the grading service's API.")
    open_lock = Instance(
        asyncio.Lock,
        args=(),
        help="Serialises opening questions, so two requests never both write a notebook.",
    )

    @default("grader_client")
    def _default_grader_client(self):
        # parent=self: c.GraderClient.* in the server's config reaches it.
        return GraderClient(parent=self, log=self.log)

    def initialize_settings(self):
        # A stopping server (its kernels shut down, everything closed) then spends most
        # of its exit in Python's final garbage collections over every object it
        # imported: a second and more, while the Hub waits for each learner's server to
        # stop. Frozen objects are left out of them; atexit handlers still run.
        atexit.register(gc.freeze)
        if not self.grader_client.grader_url:
            self.log.warning(
                "coursehub: no grading service configured (COURSEHUB_GRADER_URL); "
                "its API will answer 503"
            )
        else:
            self.log.info("coursehub: grading service at %s", self.grader_client.api_url)

    def initialize_handlers(self):
        self.handlers.extend(default_handlers)
        self.handlers.extend(practice_handlers)
        self.handlers.extend(ai_handlers)
        self.handlers.extend(openapi_handlers)
