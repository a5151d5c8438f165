"""The mail the accounts' flows send: verification codes, reset links, notices.

A mail is two Jinja2 templates, ``<name>.txt`` and optionally ``<name>.html``, looked up
in the course's folders (``template_paths``) first and then in coursehub's own
(``hub_config/templates/mail``). The text template starts with a ``Subject: ...`` line
and a blank line; the HTML one is the body only, and counts only beside its text
template: a course that overrides just the text gets a plain-text mail, as coursehub's
HTML part would contradict its wording.

With an SMTP server configured, mail goes out through it (aiosmtplib, never blocking the
Hub's event loop). Without one, as in development, each mail is written to a Maildir the
developer can read with any mail client (``mutt -f DIR``) or just ``cat``.

Mails carry secrets (codes, reset links), so nothing here logs a body, a code or a link;
log lines name the template, the recipient and the server or directory only.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import mailbox
import time
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import jinja2

DEFAULT_TEMPLATES_DIR = Path(__file__).parent.parent / "templates" / "mail"
DEFAULT_PORTS = {"none": 25, "starttls": 587, "tls": 465}
SUBJECT_PREFIX = "Subject:"

# what a failed SMTP exchange raises: protocol errors, refused or reset connections,
# TLS failures (ssl.SSLError is an OSError) and timeouts
SMTP_FAILURES = (aiosmtplib.SMTPException, OSError, TimeoutError)


class MailError(Exception):
    """Mail could not be sent (or the mail server is unreachable); the text names the
    server and the failure, never the message."""


class Mailer:
    """Renders the accounts' mails and sends them by SMTP, or into a Maildir without one.

    Created by the authenticator with its settings; ``send()`` is all the flows need,
    ``check()`` is for the health endpoint.
    """

    #: seconds a ``check()`` result is reused, so health probes do not hammer the server
    check_interval = 30
    #: seconds a ``check()`` may take in all
    check_timeout = 5

    def __init__(
        self,
        *,
        sender: str,
        maildir: Path,
        smtp_host: str = "",
        smtp_port: int = 0,
        smtp_security: str = "starttls",
        smtp_user: str = "",
        smtp_password: str = "",
        smtp_validate_certs: bool = True,
        template_paths: list[str] | tuple[str, ...] = (),
        hub_name: str = "coursehub",
        timeout: float = 30,
        log: logging.Logger | None = None,
    ):
        if smtp_security not in DEFAULT_PORTS:
            raise ValueError(
                f"smtp_security must be one of {', '.join(DEFAULT_PORTS)}, not {smtp_security!r}"
            )
        self.sender = sender
        self.maildir = Path(maildir)
        self.smtp_host = smtp_host
        self.smtp_port = smtp_port or DEFAULT_PORTS[smtp_security]
        self.smtp_security = smtp_security
        self.smtp_user = smtp_user
        self.smtp_password = smtp_password
        self.smtp_validate_certs = smtp_validate_certs
        self.hub_name = hub_name
        self.timeout = timeout
        self.log = log or logging.getLogger(__name__)
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader([*template_paths, str(DEFAULT_TEMPLATES_DIR)]),
            autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
            # a template using a name the flow does not pass is a bug to see, not a blank
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
        )
        self._maildir_announced = False
        self._last_check: tuple[float, str | MailError] | None = None
        self._check_lock = asyncio.Lock()

    @property
    def mode(self) -> str:
        """``"smtp"`` when a server is configured, else ``"maildir"``."""
        return "smtp" if self.smtp_host else "maildir"

    @property
    def server(self) -> str:
        """The SMTP server as ``host:port``."""
        host = f"[{self.smtp_host}]" if ":" in self.smtp_host else self.smtp_host
        return f"{host}:{self.smtp_port}"

    def describe(self) -> str:
        """Where mail goes, for logs and the health endpoint (no credentials)."""
        if self.mode == "smtp":
            return f"smtp {self.server} ({self.smtp_security})"
        return f"maildir {self.maildir}"

    # composing ------------------------------------------------------------------

    def render(self, to: str, template: str, **context) -> EmailMessage:
        """The complete message ``template`` makes for ``to`` with ``context``."""
        context.setdefault("hub_name", self.hub_name)
        text_template = self.templates.get_template(f"{template}.txt")
        subject, body = split_subject(text_template.render(context), template)

        msg = EmailMessage()
        msg["Subject"] = subject
        msg["From"] = self.sender
        msg["To"] = to
        msg["Date"] = email.utils.formatdate(localtime=True)
        # the sender's domain, not make_msgid's default getfqdn(), which may wait on DNS
        sender_domain = email.utils.parseaddr(self.sender)[1].rpartition("@")[2]
        msg["Message-ID"] = email.utils.make_msgid(domain=sender_domain or "localhost")
        msg.set_content(body)

        html_template = self._html_beside(text_template, template)
        if html_template is not None:
            msg.add_alternative(html_template.render(context), subtype="html")
        return msg

    def _html_beside(self, text_template: jinja2.Template, template: str):
        """The HTML template from the directory the text one came from, if there is one."""
        try:
            html_template = self.templates.get_template(f"{template}.html")
        except jinja2.TemplateNotFound:
            return None
        if Path(html_template.filename).parent != Path(text_template.filename).parent:
            return None
        return html_template

    # sending --------------------------------------------------------------------

    async def send(self, to: str, template: str, **context) -> None:
        """Render ``template`` for ``to`` and send it; raise MailError if that fails."""
        msg = self.render(to, template, **context)
        if self.mode == "smtp":
            await self._send_smtp(msg)
            self.log.info("Sent %s mail to %s through %s", template, to, self.server)
        else:
            await asyncio.to_thread(self._write_to_maildir, msg)
            self.log.info("Wrote %s mail to %s into the maildir", template, to)

    def _smtp_options(self, timeout: float) -> dict:
        options = dict(
            hostname=self.smtp_host,
            port=self.smtp_port,
            use_tls=self.smtp_security == "tls",
            start_tls=self.smtp_security == "starttls",
            validate_certs=self.smtp_validate_certs,
            timeout=timeout,
        )
        if self.smtp_user:
            options.update(username=self.smtp_user, password=self.smtp_password)
        return options

    async def _send_smtp(self, msg: EmailMessage) -> None:
        try:
            await aiosmtplib.send(msg, **self._smtp_options(self.timeout))
        except SMTP_FAILURES as e:
            raise MailError(f"Sending mail through {self.server} failed: {error_text(e)}") from e

    def _write_to_maildir(self, msg: EmailMessage) -> None:
        """Add ``msg`` to the Maildir (made with mode 0700: the mails hold codes)."""
        if not self._maildir_announced:
            self._maildir_announced = True
            self.log.warning("No SMTP server configured: mail goes to the maildir %s", self.maildir)
        try:
            self._open_maildir().add(msg)
        except OSError as e:
            raise MailError(f"Writing mail to the maildir {self.maildir} failed: {e}") from e

    def _open_maildir(self) -> mailbox.Maildir:
        self.maildir.parent.mkdir(parents=True, exist_ok=True)
        return mailbox.Maildir(self.maildir, create=True)

    # health -----------------------------------------------------------------------

    async def check(self) -> str:
        """``"ok"`` if mail can go out now, else raise MailError; reused for
        `check_interval` seconds, failures included."""
        async with self._check_lock:
            now = time.monotonic()
            if self._last_check is None or now - self._last_check[0] >= self.check_interval:
                try:
                    result = await asyncio.wait_for(self._check_now(), self.check_timeout)
                except MailError as e:
                    result = e
                except TimeoutError:
                    result = MailError(
                        f"{self.describe()} did not answer within {self.check_timeout} s"
                    )
                self._last_check = (now, result)
            result = self._last_check[1]
        if isinstance(result, MailError):
            raise MailError(str(result))
        return result

    async def _check_now(self) -> str:
        if self.mode == "maildir":
            await asyncio.to_thread(self._check_maildir)
            return "ok"
        # connecting says EHLO and does STARTTLS and AUTH when they are configured
        smtp = aiosmtplib.SMTP(**self._smtp_options(self.check_timeout))
        try:
            async with smtp:
                await smtp.noop()
        except SMTP_FAILURES as e:
            raise MailError(f"Mail server {self.server} failed: {error_text(e)}") from e
        return "ok"

    def _check_maildir(self) -> None:
        try:
            box = self._open_maildir()
            probe = Path(self.maildir, "tmp", f".coursehub-check-{time.time_ns()}")
            probe.touch()
            probe.unlink()
            box.close()
        except OSError as e:
            raise MailError(f"The maildir {self.maildir} is not writable: {e}") from e


def split_subject(rendered: str, template: str) -> tuple[str, str]:
    """The ``Subject:`` first line and the body after the blank line of a text mail."""
    first, _, body = rendered.partition("\n")
    if not first.startswith(SUBJECT_PREFIX):
        raise ValueError(f"Mail template {template}.txt must start with a 'Subject:' line")
    return first[len(SUBJECT_PREFIX) :].strip(), body.lstrip("\n")


def error_text(error: BaseException) -> str:
    """An exception as one short line (timeouts often have no message of their own)."""
    return str(error) or type(error).__name__
