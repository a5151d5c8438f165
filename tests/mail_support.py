"""A real SMTP server on loopback for tests of the mail the Hub sends.

`SmtpTestServer` runs aiosmtpd's `Controller` (its own thread and event loop) on
127.0.0.1 and a free port, and keeps every message it accepts, parsed. Fixtures:

- `smtp_server`: plain SMTP, no AUTH, one per test; `smtp_server_module`, one per module.
- `smtp_tls_server`: STARTTLS with a self-signed certificate made for the test (by the
  `openssl` command, else the `cryptography` package, else the test is skipped), and
  AUTH PLAIN/LOGIN for `.user` / `.password` only after STARTTLS.

A test notes ``n = len(server.messages)``, makes the Hub send, then takes the mail with
``server.wait_for("ann@example.org", after=n)`` (blocking: for mail sent by another
process or thread) or ``await server.wait_for_async(...)`` (when the sender shares the
test's event loop, which a blocking wait would stall).
"""

from __future__ import annotations

import asyncio
import datetime
import email
import email.policy
import ipaddress
import shutil
import socket
import ssl
import subprocess
import threading
import time
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

TEST_USER, TEST_PASSWORD = "mailer", "mailer-test-password"


class SmtpTestServer:
    """aiosmtpd on 127.0.0.1 keeping what it receives; `start()` and `stop()`.

    With ``tls_dir`` it offers STARTTLS with a self-signed certificate made there, and
    AUTH for ``user``/``password`` once the connection is encrypted.
    """

    host = "127.0.0.1"

    def __init__(
        self, tls_dir: Path | None = None, user: str = TEST_USER, password: str = TEST_PASSWORD
    ):
        self.tls_dir = tls_dir
        self.user, self.password = user, password
        self.port = 0
        self.cert_path: Path | None = None
        self._received: list[tuple[list[str], EmailMessage]] = []
        self._arrived = threading.Condition()
        self._controller: Controller | None = None

    # aiosmtpd's handler hook, called on the server's thread
    async def handle_DATA(self, server, session, envelope) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        recipients = [address.lower() for address in envelope.rcpt_tos]
        with self._arrived:
            self._received.append((recipients, message))
            self._arrived.notify_all()
        return "250 Message accepted for delivery"

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        valid = isinstance(auth_data, LoginPassword) and (
            auth_data.login.decode(),
            auth_data.password.decode(),
        ) == (self.user, self.password)
        # handled=False: aiosmtpd answers the refusal itself (535)
        return AuthResult(success=valid, handled=False)

    def start(self) -> SmtpTestServer:
        options = {}
        if self.tls_dir is not None:
            cert, key = make_self_signed_certificate(self.tls_dir)
            self.cert_path = cert
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert, key)
            options = dict(
                tls_context=context,
                require_starttls=True,
                authenticator=self._authenticate,
                auth_require_tls=True,
                # mail is refused before a login: a message arriving proves the client's
                auth_required=True,
            )
        # the free port may be taken between finding and binding it: try a few
        for attempt in range(5):
            self.port = free_port()
            controller = Controller(self, hostname=self.host, port=self.port, **options)
            try:
                controller.start()
            except Exception:
                if attempt == 4:
                    raise
                continue
            self._controller = controller
            return self
        raise AssertionError("unreachable")

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    # what arrived ------------------------------------------------------------------

    @property
    def messages(self) -> list[EmailMessage]:
        """Every message received so far, oldest first."""
        with self._arrived:
            return [message for _, message in self._received]

    def _newest_to(self, to: str, after: int) -> EmailMessage | None:
        to = to.lower()
        for recipients, message in reversed(self._received[after:]):
            if to in recipients:
                return message
        return None

    def wait_for(self, to: str, after: int = 0, timeout: float = 10) -> EmailMessage:
        """The newest message to ``to`` among those after the first ``after`` received,
        waiting up to ``timeout`` seconds for one; blocks the calling thread."""
        with self._arrived:
            if self._arrived.wait_for(lambda: self._newest_to(to, after), timeout):
                return self._newest_to(to, after)
        raise AssertionError(self._nothing_for(to, after, timeout))

    async def wait_for_async(self, to: str, after: int = 0, timeout: float = 10) -> EmailMessage:
        """`wait_for` without blocking the event loop."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._arrived:
                message = self._newest_to(to, after)
            if message is not None:
                return message
            await asyncio.sleep(0.05)
        raise AssertionError(self._nothing_for(to, after, timeout))

    def _nothing_for(self, to: str, after: int, timeout: float) -> str:
        with self._arrived:
            seen = [recipients for recipients, _ in self._received[after:]]
        return f"no mail to {to} within {timeout} s; mail after #{after} went to {seen}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1/localhost and its key in ``directory``; skips the
    test when neither `openssl` nor the `cryptography` package can make one."""
    cert, key = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    openssl = shutil.which("openssl")
    if openssl:
        subprocess.run(
            [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
             "-subj", "/CN=localhost",
             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
             "-keyout", str(key), "-out", str(cert)],
            check=True,
            capture_output=True,
        )  # fmt: skip
        return cert, key
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        pytest.skip("STARTTLS tests need a certificate: install openssl or cryptography")

    private_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(private_key, hashes.SHA256())
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert, key


@pytest.fixture
def smtp_server():
    """A plain SMTP server for one test."""
    server = SmtpTestServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def smtp_server_module():
    """A plain SMTP server shared by a module's tests (take mail with ``after=``)."""
    server = SmtpTestServer().start()
    yield server
    server.stop()


@pytest.fixture
def smtp_tls_server(tmp_path):
    """An SMTP server requiring STARTTLS (self-signed) and AUTH as `.user`/`.password`."""
    server = SmtpTestServer(tls_dir=tmp_path).start()
    yield server
    server.stop()
