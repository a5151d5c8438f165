"""GraderApp: the grading service, run by JupyterHub as a managed service.

Small `init_*` steps, as in JupyterHub's app: database (refusing a schema mismatch),
executor (chosen by entry point name), durable queue, sample courses, web app.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
from pathlib import Path
from urllib.parse import urlparse

from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler
from jupyterhub.traitlets import EntryPointType
from sqlalchemy import inspect
from tornado import web
from tornado.httpserver import HTTPServer
from traitlets import Bool, Integer, List, Unicode, default
from traitlets.config import Application

from . import __version__, dbutil
from .content import load_course
from .executors.base import Executor
from .handlers import health, modules, questions, scores, submissions
from .queue import GradingQueue

# a little over the 16 MiB a submission may have, so the handler can answer 413 itself
MAX_BODY_BYTES = 20 * 1024 * 1024


def docker_engine_answers() -> bool:
    """Whether a Docker engine answers on this machine (checked once, at start-up)."""
    try:
        import docker

        client = docker.from_env(timeout=2)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


class GraderApp(Application):
    """Serve the v1 grading API and grade queued submissions."""

    name = "coursehub-grader"
    version = __version__
    description = __doc__

    classes = [GradingQueue, HubOAuth]

    state_dir = Unicode(help="Folder for the default SQLite database.").tag(config=True)

    @default("state_dir")
    def _default_state_dir(self):
        return os.environ.get("COURSEHUB_STATE_DIR", os.path.abspath(".state"))

    db_url = Unicode(
        help="SQLAlchemy URL of the grader's database (SQLite file by default, PostgreSQL in "
        "production)."
    ).tag(config=True)

    @default("db_url")
    def _default_db_url(self):
        url = os.environ.get("COURSEHUB_GRADER_DB_URL")
        return url or f"sqlite:///{Path(self.state_dir, 'grader.sqlite')}"

    upgrade_db = Bool(
        False,
        help="Migrate an existing database to this version's schema at start-up, instead of "
        "refusing to start. Back up first.",
    ).tag(config=True)

    course_dirs = List(
        Unicode(),
        help="Course folders (each holding course.json) loaded at start-up; loading is idempotent.",
    ).tag(config=True)

    @default("course_dirs")
    def _default_course_dirs(self):
        root = os.environ.get("COURSEHUB_COURSE_DIR")
        if not root:
            return []
        return [str(p.parent) for p in sorted(Path(root).glob("*/course.json"))]

    executor_class = EntryPointType(
        klass=Executor,
        entry_point_group="coursehub.executors",
        help="""Where grading runs: an Executor subclass or the name of one in the
        `coursehub.executors` entry points (bubblewrap, unsandboxed). Default: bubblewrap
        where `bwrap` is installed; otherwise unsandboxed, which refuses to grade unless
        allowed. `$COURSEHUB_EXECUTOR` (docker, bubblewrap, unsandboxed or auto) sets it;
        auto (the default) prefers Docker where an engine answers.""",
    ).tag(config=True)

    @default("executor_class")
    def _default_executor_class(self):
        choice = os.environ.get("COURSEHUB_EXECUTOR", "auto")
        if choice != "auto":
            return choice
        if docker_engine_answers():
            return "docker"
        return "bubblewrap" if shutil.which("bwrap") else "unsandboxed"

    service_url = Unicode(help="Where this service listens (JupyterHub sets it).").tag(config=True)

    @default("service_url")
    def _default_service_url(self):
        return os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:10101")

    service_prefix = Unicode(help="URL prefix of this service behind the Hub's proxy.").tag(
        config=True
    )

    @default("service_prefix")
    def _default_service_prefix(self):
        return os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/grader/")

    port = Integer(0, help="Port to listen on; 0 takes it from service_url.").tag(config=True)

    # runtime objects

    engine = None
    session_factory = None
    executor = None
    queue = None
    hub_auth = None

    def init_db(self):
        if self.db_url.startswith("sqlite:///"):
            Path(self.db_url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
        self.engine = dbutil.make_engine(self.db_url)
        empty = not inspect(self.engine).get_table_names()
        if empty or self.upgrade_db:
            dbutil.upgrade(self.db_url)
        dbutil.check_schema(self.engine)
        self.session_factory = dbutil.make_session_factory(self.engine)

    def init_executor(self):
        self.executor = self.executor_class(parent=self)
        self.log.info("grading with %s", type(self.executor).__name__)

    def init_queue(self):
        self.queue = GradingQueue(self.session_factory, self.executor, parent=self)

    def init_courses(self):
        for course_dir in self.course_dirs:
            with self.session_factory() as db:
                counts = load_course(db, Path(course_dir))
            self.log.info("course %s loaded: %s", course_dir, counts)

    def init_webapp(self):
        self.hub_auth = HubOAuth(parent=self, cache_max_age=60)
        prefix = self.service_prefix
        api = prefix + "api/v1/"
        routes = []
        for module in (health, modules, questions, submissions, scores):
            routes += [
                (api + pattern + "/?$", handler) for pattern, handler in module.default_handlers
            ]
        routes.append((prefix + "oauth_callback", HubOAuthCallbackHandler))
        self.webapp = web.Application(
            routes,
            grader_app=self,
            hub_auth=self.hub_auth,
            cookie_secret=os.urandom(32),
            log_function=self._log_request,
        )

    def _log_request(self, handler):
        status = handler.get_status()
        log = self.log.info if status < 400 else self.log.warning
        if handler.request.path.endswith("/health") and status == 200:
            log = self.log.debug
        log(
            "%d %s %s %.1fms",
            status,
            handler.request.method,
            handler.request.path,
            1000 * handler.request.request_time(),
        )

    def initialize(self, argv=None):
        super().initialize(argv)
        self.init_db()
        self.init_executor()
        self.init_queue()
        self.init_courses()
        self.init_webapp()

    async def serve(self):
        url = urlparse(self.service_url)
        self.http_server = HTTPServer(self.webapp, max_body_size=MAX_BODY_BYTES, xheaders=True)
        self.http_server.listen(self.port or url.port, url.hostname or "127.0.0.1")
        self.queue.start()
        self.log.info(
            "coursehub grader %s listening on %s%s",
            __version__,
            self.service_url,
            self.service_prefix,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        self.log.info("stopping: submissions being graded go back to the queue")
        self.http_server.stop()
        await self.queue.stop()
        await self.executor.close()
        self.engine.dispose()

    def start(self):
        asyncio.run(self.serve())


def main(argv=None):
    app = GraderApp()
    try:
        app.initialize(argv)
    except dbutil.SchemaMismatch as e:
        print(f"coursehub-grader: {e}", file=sys.stderr)
        sys.exit(1)
    app.start()
