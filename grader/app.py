"""GraderApp: the grading service, run by JupyterHub as a managed service.

Small `init_*` steps, as in JupyterHub's app: configuration file, database (refusing a
schema mismatch), executor (chosen by entry point name), durable queue, sample courses,
web app.

Two kinds of process share the database: the service (`coursehub-grader serve`) answers
the API and never grades; worker processes (`coursehub-grader worker`) claim queued
submissions and grade them. The service starts `worker_processes` of them on its own
host, wakes them when a submission arrives and starts them again if they die; more run
anywhere else the database is reachable (scale-out). With `worker_processes = 0` the
service grades in its own process (tests, the smallest setups).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

from jupyterhub.httpclient import JupyterHubHTTPClient
from jupyterhub.services.auth import HubOAuth
from jupyterhub.traitlets import EntryPointType
from sqlalchemy import inspect, select
from sqlalchemy.exc import OperationalError
from tornado import web
from tornado.httpserver import HTTPServer
from traitlets import Bool, Bytes, Float, Integer, List, Unicode, default
from traitlets.config import Application

from . import __version__, dbutil, orm
from .ai.assistant import AIAssistant
from .audit.watch import AuditWatch
from .auth import GraderOAuth, OAuthCallbackHandler, cookie_secret_from_token
from .courses import EnrolmentSync, HubError, HubGroups
from .executors.base import Executor
from .executors.bubblewrap import BubblewrapExecutor
from .executors.cgroups import CgroupLimits
from .executors.docker import DockerExecutor
from .executors.kubernetes import KubernetesExecutor
from .executors.unsandboxed import UnsandboxedExecutor
from .grading.queue import GradingQueue
from .grading.watch import StatusWatch
from .handlers import (
    ai,
    analytics,
    audit,
    awards,
    course_pages,
    courses,
    daily,
    duels,
    events,
    health,
    integrity,
    modules,
    openapi,
    pages,
    paths,
    plagiarism,
    plagiarism_pages,
    questions,
    quizzes,
    reviews,
    scores,
    submissions,
)
from .handlers import lti as lti_handlers
from .handlers import lti_pages as lti_page_handlers
from .instructors.content import load_course
from .instructors.plagiarism_runner import PlagiarismRunner
from .instructors.validation import QuestionValidator
from .learners import duels as learner_duels
from .learners.awards import AwardRules
from .learners.duels import DuelRules
from .learners.events import EventWatch
from .learners.reviews import ReviewRules
from .lti import roster as lti_roster
from .lti.sender import ScoreSender
from .lti.service import LTIService

# set in the environment of the workers the service starts: they end with it
SERVICE_PID_ENV = "COURSEHUB_GRADER_SERVICE_PID"

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

    @default("log_level")
    def _default_log_level(self):
        return logging.INFO  # one line a request, as JupyterHub logs

    # every Configurable of the service, so `--help-all` and `--generate-config` list
    # their options
    classes = [
        GradingQueue,
        AwardRules,
        AIAssistant,
        ReviewRules,
        QuestionValidator,
        StatusWatch,
        DuelRules,
        EventWatch,
        HubOAuth,
        GraderOAuth,
        Executor,
        BubblewrapExecutor,
        CgroupLimits,
        DockerExecutor,
        KubernetesExecutor,
        UnsandboxedExecutor,
        LTIService,
        PlagiarismRunner,
    ]

    config_file = Unicode(
        "grader_config.py",
        help="""The configuration file (traitlets, like jupyterhub_config.py): looked for
        in the working directory, then in the state directory. `$COURSEHUB_GRADER_CONFIG`
        names another.""",
    ).tag(config=True)

    @default("config_file")
    def _default_config_file(self):
        return os.environ.get("COURSEHUB_GRADER_CONFIG", "grader_config.py")

    db_threads = Integer(
        8,
        help="""Threads that run the API's database work (every request's queries), so
        that the event loop only parses requests and sends answers.""",
    ).tag(config=True)

    api_only = Bool(
        False,
        help="""Serve the API and grade nothing here: the workers run as a service of their
        own (`coursehub-grader worker` replicas in Docker Swarm or Kubernetes).""",
    ).tag(config=True)

    worker_processes = Integer(
        2,
        help="""Grading worker processes the service starts on its host (each grades
        GradingQueue.workers submissions at once). 0: grade in the service's own process.
        Workers on other hosts are started with `coursehub-grader worker`.""",
    ).tag(config=True)

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

    db_wait_seconds = Float(
        60.0, help="How long to wait at start-up for a database that does not answer yet."
    ).tag(config=True)

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

    hub_base_url = Unicode(
        help="""The Hub's public base URL path (JupyterHub sets $JUPYTERHUB_BASE_URL): the
        learner's page links to `<hub_base_url>user/<name>/lab`."""
    ).tag(config=True)

    @default("hub_base_url")
    def _default_hub_base_url(self):
        url = os.environ.get("JUPYTERHUB_BASE_URL") or "/"
        return url if url.endswith("/") else url + "/"

    cookie_secret = Bytes(
        help="""Signs the browser's login cookie (the Hub's OAuth token) and the XSRF
        cookie. Every replica of the API must have the same, or a cookie set by one is
        refused by the next (docs/scaling.md). Default: derived from the service's Hub
        API token (an HMAC of a fixed label), which every replica has already; set it
        (32 random bytes) only to keep browsers signed in across a change of token."""
    ).tag(config=True)

    # runtime objects

    engine = None
    session_factory = None
    writer_factory = None
    watch = None
    event_watch = None
    lti = None  # LTIService (the API service only)
    plagiarism = None  # PlagiarismRunner (the API service only)
    lti_sender = None
    audit_watch = None
    worker_pipes = ()
    executor = None
    queue = None
    validator = None
    hub_auth = None

    def init_db(self):
        if self.db_url.startswith("sqlite:///"):
            Path(self.db_url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
        self.engine = dbutil.make_engine(self.db_url)
        empty = not self._wait_for_database()
        if empty or self.upgrade_db:
            dbutil.upgrade(self.db_url)
        dbutil.check_schema(self.engine)
        self.session_factory = dbutil.make_session_factory(self.engine)
        self.writer_engine = dbutil.make_engine(self.db_url, writer=True)
        self.writer_factory = dbutil.make_session_factory(self.writer_engine)
        self.db_pool = ThreadPoolExecutor(self.db_threads, thread_name_prefix="grader-db")

    def _wait_for_database(self) -> list[str]:
        """The database's tables, once it answers: replicas and workers may start before
        it does (Swarm and Kubernetes start services in no order)."""
        deadline = time.monotonic() + self.db_wait_seconds
        while True:
            try:
                return inspect(self.engine).get_table_names()
            except OperationalError as e:
                if time.monotonic() >= deadline:
                    raise
                self.log.warning("waiting for the database: %s", str(e.orig).splitlines()[0])
                time.sleep(1)

    def init_executor(self):
        self.executor = self.executor_class(parent=self)
        self.log.info("grading with %s", type(self.executor).__name__)

    def init_queue(self):
        self.queue = GradingQueue(
            self.session_factory,
            self.executor,
            writer_factory=self.writer_factory,
            lock_dir=Path(self.state_dir, "workers"),
            parent=self,
        )

    def init_validator(self):
        # instructors' trial runs of a question: the API's, with the API's executor
        self.validator = QuestionValidator(self.executor, parent=self)

    def init_courses(self):
        for course_dir in self.course_dirs:
            with self.session_factory() as db:
                counts = load_course(db, Path(course_dir))
            self.log.info("course %s loaded: %s", course_dir, counts)

    def init_webapp(self):
        # base_url given: HubAuth's default reads $JUPYTERHUB_SERVICE_PREFIX at import
        # time; it is the path of the login and XSRF cookies
        self.hub_auth = GraderOAuth(parent=self, cache_max_age=60, base_url=self.service_prefix)
        # Not os.urandom: with several API replicas behind the Hub's proxy a browser's
        # requests go to any of them, and each must read the cookies another set. The
        # service's Hub token is already shared by all of them (and secret), so the
        # secret is derived from it rather than kept in a file each would need a copy
        # of (replicas have no common disk).
        self.hub_groups = HubGroups(self.hub_auth.api_url, self.hub_auth.api_token)
        self.enrolments = EnrolmentSync()
        secret = self.cookie_secret or cookie_secret_from_token(self.hub_auth.api_token)
        self.hub_auth.state_secret = secret  # the OAuth state, sealed: any replica reads it
        prefix = self.service_prefix
        api = prefix + "api/v1/"
        routes = []
        self.watch = StatusWatch(self.session_factory, self.queue, parent=self)
        self.event_watch = EventWatch(self.session_factory, parent=self)
        # LTI 1.3: platforms, the tool's key, grade passback's sender (grader.lti)
        self.lti = LTIService(parent=self)
        self.lti_sender = ScoreSender(self, self.lti)
        self.audit_watch = AuditWatch(self.session_factory, parent=self)
        # similarity reports, computed in a process of their own (one at a time)
        self.plagiarism = PlagiarismRunner(
            self.session_factory, self.db_url, self.db_pool, parent=self
        )
        for module in (
            health,
            lti_handlers,
            openapi,
            ai,
            courses,
            modules,
            awards,
            questions,
            submissions,
            events,
            scores,
            analytics,
            paths,
            reviews,
            quizzes,
            duels,
            daily,
            integrity,
            audit,
            plagiarism,
        ):
            routes += [
                (api + pattern + "/?$", handler) for pattern, handler in module.default_handlers
            ]
        # after every endpoint: any other path under the API is a JSON 404, not a page
        routes.append((api + ".*", openapi.NoSuchEndpointHandler))
        routes.append((prefix + "oauth_callback", OAuthCallbackHandler))
        routes += [
            (prefix.rstrip("/") + pattern + "$", handler)
            for pattern, handler in pages.default_handlers
            + course_pages.default_handlers
            + integrity.page_handlers
            + audit.page_handlers
            + plagiarism_pages.page_handlers
            + lti_page_handlers.default_handlers
        ]
        self.webapp = web.Application(
            routes,
            grader_app=self,
            hub_auth=self.hub_auth,
            grader_templates=pages.template_environment(),
            cookie_secret=secret,
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

    def load_config_file_if_any(self):
        """grader_config.py in the working directory, else in the state directory."""
        path = Path(self.config_file)
        if not path.is_absolute() and not path.exists():
            path = Path(self.state_dir, self.config_file)
        if path.exists():
            self.load_config_file(str(path))
            self.log.info("configuration loaded from %s", path)
        elif "COURSEHUB_GRADER_CONFIG" in os.environ:
            raise FileNotFoundError(f"no grader configuration file at {path}")

    def initialize(self, argv=None, worker: bool = False):
        super().initialize(argv)
        self.load_config_file_if_any()
        self.init_db()
        self.init_executor()
        self.init_queue()
        if worker:
            return
        self.init_validator()
        self.init_courses()
        self.init_webapp()

    # worker processes

    def worker_command(self) -> list[str]:
        return [sys.executable, "-m", "grader.cli", "worker", *self.extra_argv_options]

    @property
    def extra_argv_options(self) -> list[str]:
        return [a for a in (self.argv or []) if a.startswith("--")]

    async def supervise_workers(self, stop: asyncio.Event):
        """Keep `worker_processes` workers running; wake them through their stdin."""
        processes: list[subprocess.Popen | None] = [None] * self.worker_processes
        while not stop.is_set():
            for i, process in enumerate(processes):
                if process is None or process.poll() is not None:
                    if process is not None:
                        self.log.warning(
                            "grading worker %d ended (%s): starting it again", i, process.returncode
                        )
                    processes[i] = subprocess.Popen(
                        self.worker_command(),
                        stdin=subprocess.PIPE,
                        env={**os.environ, SERVICE_PID_ENV: str(os.getpid())},
                    )
                    os.set_blocking(processes[i].stdin.fileno(), False)
            self.worker_pipes = [p.stdin for p in processes if p is not None]
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except TimeoutError:
                pass
        for process in processes:
            if process is not None and process.poll() is None:
                process.terminate()
        for process in processes:
            if process is not None:
                await asyncio.to_thread(_wait_or_kill, process, 10)

    def wake_workers(self):
        """A submission was stored: the workers look for it now, not at their next poll."""
        if self.worker_processes == 0 or self.api_only:
            self.queue.wake()  # in-process workers; replicas elsewhere poll
            return
        for pipe in self.worker_pipes:
            try:
                os.write(pipe.fileno(), b"w")
            except (BlockingIOError, BrokenPipeError, ValueError):
                pass  # full (it will look anyway), or dead (restarted within a second)

    async def serve(self):
        url = urlparse(self.service_url)
        self.http_server = HTTPServer(self.webapp, max_body_size=MAX_BODY_BYTES, xheaders=True)
        self.http_server.listen(self.port or url.port, url.hostname or "127.0.0.1")
        stop = asyncio.Event()
        supervisor = None
        if self.api_only:
            self.log.info("API only: grading is left to worker replicas")
        elif self.worker_processes:
            supervisor = asyncio.create_task(self.supervise_workers(stop))
        else:
            self.queue.start()
        self.log.info(
            "coursehub grader %s listening on %s%s",
            __version__,
            self.service_url,
            self.service_prefix,
        )
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        courses_in_hub = asyncio.create_task(self.ensure_courses_in_hub())
        settling = asyncio.create_task(self.settle_periodically(stop))
        self.plagiarism.start()  # and reports left by a process that died
        # grade passback and roster syncs (LTI): every replica; claims keep them apart
        lti_work = [
            asyncio.create_task(self.lti_sender.run(stop)),
            asyncio.create_task(lti_roster.sync_periodically(self, stop)),
        ]
        await stop.wait()
        courses_in_hub.cancel()
        await settling
        await asyncio.gather(*lti_work)
        self.log.info("stopping: submissions being graded go back to the queue")
        self.http_server.stop()
        if supervisor is not None:
            await supervisor
        await self.close()

    async def ensure_courses_in_hub(self, attempts: int = 60):
        """Every course's groups and roles in the Hub (courses loaded from folders, or
        made before an upgrade): the Hub starts its services before it listens, so the
        courses left are tried again every two seconds for a while."""

        def course_slugs():
            with self.session_factory() as db:
                return list(db.scalars(select(orm.Course.slug)))

        left = await asyncio.get_running_loop().run_in_executor(self.db_pool, course_slugs)
        for attempt in range(attempts):
            for slug in list(left):
                try:
                    await self.hub_groups.ensure_course(slug)
                    left.remove(slug)
                except HubError as e:
                    if attempt == attempts - 1:
                        self.log.error("course %s has no roles in the Hub: %s", slug, e)
            if not left:
                return
            await asyncio.sleep(2)

    async def settle_periodically(self, stop: asyncio.Event):
        """What time decides, every `DuelRules.settle_interval`: duels past their deadline
        (draws) or the bot's time (its wins); and old learner events pruned. Every API
        replica may run it: a duel finishes only once (learners.duels.finish)."""
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            try:
                await loop.run_in_executor(self.db_pool, self.settle_once)
            except Exception as e:  # the database away for a while: the next tick tries
                self.log.warning("settling duels: %s", e)
            try:
                await asyncio.wait_for(
                    stop.wait(), learner_duels.rules_of(self.queue).settle_interval
                )
            except TimeoutError:
                pass

    def settle_once(self) -> int:
        rules = learner_duels.rules_of(self.queue)
        settled = learner_duels.settle_due(self.session_factory, self.writer_factory, rules)
        self.event_watch.prune_if_due(self.writer_factory, time.monotonic())
        return settled

    async def work(self):
        """`coursehub-grader worker`: grade until SIGTERM; stdin bytes wake the workers."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if os.environ.get(SERVICE_PID_ENV):
            # started by a local service: its pipe wakes us (a worker run on its own, by
            # a service manager, has a /dev/null or a terminal there, and polls)
            loop.add_reader(sys.stdin.fileno(), self._read_wake, loop, stop)
        self.queue.start()
        self.log.info("grading worker %s (pid %d) started", self.queue.worker_id, os.getpid())
        await stop.wait()
        self.log.info("worker stopping: submissions being graded go back to the queue")
        await self.close()

    async def close(self):
        """Stop following and grading (claims go back to the queue), end the sandboxes'
        warm processes, close the database: what serve, work and tests end with."""
        if self.watch is not None:
            self.watch.stop()
        if self.event_watch is not None:
            self.event_watch.stop()
        if self.audit_watch is not None:
            self.audit_watch.stop()
        if self.plagiarism is not None:
            await self.plagiarism.stop()  # its report goes back, to be resumed
        await self.queue.stop()  # a no-op where this process does not grade
        await self.executor.close()
        if self.lti is not None:
            await self.lti.close()
        # HubAuth's HTTP client (jupyterhub.httpclient, aiohttp) keeps a session per
        # event loop, its DNS resolver an inotify instance and a thread: ours go too
        await JupyterHubHTTPClient.loop_instance().close()
        self.engine.dispose()
        self.writer_engine.dispose()
        self.db_pool.shutdown(wait=False)

    def _read_wake(self, loop, stop):
        data = os.read(sys.stdin.fileno(), 4096)
        if data:
            self.queue.wake()
            return
        # the service that started us is gone (killed): so are we; the next one starts
        # its own workers, which take our claims back at once
        loop.remove_reader(sys.stdin.fileno())
        self.log.warning("the grading service ended: this worker stops too")
        stop.set()

    def start(self):
        asyncio.run(self.serve())


def _wait_or_kill(process: subprocess.Popen, timeout: float):
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def main(argv=None, worker: bool = False):
    app = GraderApp()
    try:
        app.initialize(argv, worker=worker)
    except (dbutil.SchemaMismatch, FileNotFoundError) as e:
        print(f"coursehub-grader: {e}", file=sys.stderr)
        sys.exit(1)
    if worker:
        asyncio.run(app.work())
    else:
        app.start()
    # The process ends, and close() has released everything outside it (claims given
    # back, sandboxes and worker processes ended, the database closed). The garbage
    # collections Python runs while finalizing would still walk every object imported
    # or made here (~265,000 in a worker): 0.4 s alone, 1-2 s for the service and its
    # workers on two busy cores, while the Hub waits for us to stop. Frozen objects are
    # left out of them; atexit handlers still run and output is still flushed.
    gc.freeze()
