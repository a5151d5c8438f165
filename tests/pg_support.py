"""A throwaway PostgreSQL 15 cluster for tests: the production database, for real.

`postgres_server` (session-scoped) runs Debian's `initdb` and `pg_ctl` in a fresh temp
folder, listening on a free port on 127.0.0.1 and a private unix socket, with a password
role that may create databases; every test takes a database of its own from
`create_database()`. PostgreSQL refuses to run as root, so under root the server runs
as the `postgres` system user. The cluster is stopped and removed at the end of the
session, also when tests fail. Without the binaries (`apt-get install postgresql`) the
tests that need it are skipped with that reason.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

DEFAULT_PG_BIN = "/usr/lib/postgresql/15/bin"
ROLE, PASSWORD = "coursehub", "coursehub-test-password"


def pg_bin() -> Path:
    """Where PostgreSQL's server binaries are: Debian's 15, or `$COURSEHUB_TEST_PG_BIN`."""
    return Path(os.environ.get("COURSEHUB_TEST_PG_BIN") or DEFAULT_PG_BIN)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """One PostgreSQL cluster in a temp folder; `start()`, `url(db)`, `stop()`."""

    def __init__(self, bin_dir: Path | None = None, crash_safe_commits: bool = False):
        self.bin_dir = bin_dir or pg_bin()
        # synchronous_commit off loses the last commits when the server is killed (their
        # WAL was still in its memory): a test that restarts the server needs them kept
        self.crash_safe_commits = crash_safe_commits
        self.root = Path(tempfile.mkdtemp(prefix="coursehub-test-pg-"))
        self.data_dir = self.root / "data"
        self.socket_dir = self.root / "socket"
        self.log_path = self.root / "postgres.log"
        self.port = _free_port()
        self._names = itertools.count(1)
        self._started = False
        # root may not run the server: hand the folder to the `postgres` system user
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            user = pwd.getpwnam("postgres")
            for path in (self.root, self.socket_dir):
                path.mkdir(exist_ok=True)
                os.chown(path, user.pw_uid, user.pw_gid)
        else:
            self.socket_dir.mkdir()

    def _run(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        cmd = [str(self.bin_dir / args[0]), *args[1:]]
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=True, capture_output=True, text=True, **kwargs)

    def start(self) -> PostgresServer:
        self._run(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            "postgres",
            "--auth-local=trust",  # the unix socket is private to this folder
            "--auth-host=scram-sha-256",  # TCP, as the service connects, needs the password
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        )
        # fsync and friends off: a test cluster need not survive a power cut
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.socket_dir} "
            "-c fsync=off -c full_page_writes=off "
            f"-c synchronous_commit={'on' if self.crash_safe_commits else 'off'} "
            "-c max_connections=200"
        )
        self._options = options
        self._pg_ctl_start()
        self._started = True
        self.admin_sql(
            f"CREATE ROLE {ROLE} LOGIN CREATEDB PASSWORD '{PASSWORD}'",
        )
        return self

    def _pg_ctl_start(self) -> None:
        try:
            self._run(
                "pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data_dir),
                "-l", str(self.log_path), "-o", self._options,
            )  # fmt: skip
        except subprocess.CalledProcessError as e:
            raise RuntimeError(f"PostgreSQL did not start: {e.stderr}\n{self.log()}") from e

    def admin_sql(self, sql: str, dbname: str = "postgres") -> None:
        """Run one statement as the superuser over the private unix socket."""
        import psycopg

        with psycopg.connect(
            host=str(self.socket_dir), port=self.port, user="postgres", dbname=dbname,
            autocommit=True,
        ) as conn:  # fmt: skip
            conn.execute(sql)

    def url(self, dbname: str) -> str:
        """The SQLAlchemy URL the grader and the Hub are given (psycopg 3 driver)."""
        return f"postgresql+psycopg://{ROLE}:{PASSWORD}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, prefix: str = "test") -> str:
        """A fresh, empty database owned by the test role; its URL."""
        name = f"{prefix}_{next(self._names)}"
        self.admin_sql(f'CREATE DATABASE "{name}" OWNER {ROLE}')
        return self.url(name)

    def restart(self) -> None:
        """Stop the server at once (as a crash would) and start it again."""
        self._run("pg_ctl", "stop", "-D", str(self.data_dir), "-m", "immediate", "-w")
        self._pg_ctl_start()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        if self._started:
            # immediate: nothing here is worth a clean shutdown checkpoint
            try:
                self._run("pg_ctl", "stop", "-D", str(self.data_dir), "-m", "immediate", "-w")
            except subprocess.CalledProcessError as e:
                print(f"pg_ctl stop failed: {e.stderr}")
            self._started = False
        shutil.rmtree(self.root, ignore_errors=True)


def postgres_missing_reason() -> str | None:
    bin_dir = pg_bin()
    if not (bin_dir / "initdb").exists() or not (bin_dir / "pg_ctl").exists():
        return f"PostgreSQL server binaries not in {bin_dir} (apt-get install postgresql)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "no `postgres` system user to run PostgreSQL as (apt-get install postgresql)"
    return None


@pytest.fixture(scope="session")
def postgres_server():
    """A running PostgreSQL cluster for the whole session, removed at the end."""
    reason = postgres_missing_reason()
    if reason:
        pytest.skip(reason)
    server = PostgresServer()
    try:
        server.start()
    except Exception:
        server.stop()
        raise
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """A fresh empty database on the session's cluster, for one test."""
    return postgres_server.create_database()
