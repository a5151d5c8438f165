"""The accounts' mail, sent to a real SMTP server on loopback (tests/mail_support.py) or
written to a Maildir: what arrives, course overrides, STARTTLS with AUTH, the health
check, and that no code or link ever reaches a log."""

from __future__ import annotations

import email
import email.policy
import email.utils
import logging
import mailbox
import stat

import pytest

from hub_config.accounts.mail import Mailer, MailError

SENDER = "Data 101 Hub <noreply@hub.example.org>"
HUB_NAME = "Data 101 Hub"
CODE = "493027"
RESET_LINK = "https://hub.example.org/hub/reset?token=s3cr3t-reset-token"
LOG_NAME = "coursehub.test.mail"

# the context each template is documented to take
CONTEXTS = {
    "verify_code": dict(
        username="ann", code=CODE, minutes=15, verify_url="https://hub.example.org/hub/verify"
    ),
    "reset_link": dict(username="ann", link=RESET_LINK, minutes=30),
    "already_registered": dict(
        username="ann",
        forgot_url="https://hub.example.org/hub/forgot",
        login_url="https://hub.example.org/hub/login",
    ),
}


def make_mailer(tmp_path, server=None, **options) -> Mailer:
    """A Mailer for ``server`` (plain SMTP) or, without one, for a Maildir in tmp_path."""
    if server is not None:
        plain = dict(smtp_host=server.host, smtp_port=server.port, smtp_security="none")
        options = {**plain, **options}
    return Mailer(
        sender=SENDER,
        maildir=tmp_path / "maildir",
        hub_name=HUB_NAME,
        log=logging.getLogger(LOG_NAME),
        **options,
    )


def text_and_html(message) -> tuple[str, str | None]:
    """The plain and HTML parts with newlines as written (SMTP sends CRLF)."""
    plain, html = message.get_body(("plain",)), message.get_body(("html",))
    return unix(plain.get_content()), html and unix(html.get_content())


def unix(text: str) -> str:
    return text.replace("\r\n", "\n")


# what arrives ------------------------------------------------------------------------


async def test_verify_code_mail_arrives_with_code_in_text_and_html(tmp_path, smtp_server):
    mailer = make_mailer(tmp_path, smtp_server)
    assert mailer.mode == "smtp"
    assert mailer.describe() == f"smtp 127.0.0.1:{smtp_server.port} (none)"

    await mailer.send("ann@example.org", "verify_code", **CONTEXTS["verify_code"])

    message = await smtp_server.wait_for_async("ann@example.org")
    assert message["Subject"] == "Your Data 101 Hub verification code"
    assert email.utils.parseaddr(message["From"]) == ("Data 101 Hub", "noreply@hub.example.org")
    assert message["To"] == "ann@example.org"
    assert message["Date"] and message["Message-ID"].endswith("@hub.example.org>")
    text, html = text_and_html(message)
    assert CODE in text and CODE in html
    assert "15 minutes" in text
    assert "ignore this mail" in text


async def test_html_part_escapes_what_it_is_given(tmp_path, smtp_server):
    mailer = make_mailer(tmp_path, smtp_server)
    context = dict(CONTEXTS["verify_code"], username="<script>alert(1)</script>")

    await mailer.send("ann@example.org", "verify_code", **context)

    text, html = text_and_html(smtp_server.wait_for("ann@example.org"))
    assert "<script>" in text  # plain text is shown as is
    assert "<script>" not in html and "&lt;script&gt;" in html


@pytest.mark.parametrize("template", sorted(CONTEXTS))
def test_every_template_renders_with_its_documented_context(tmp_path, template):
    message = make_mailer(tmp_path).render("ann@example.org", template, **CONTEXTS[template])

    assert HUB_NAME in message["Subject"]
    text, html = text_and_html(message)
    for value in CONTEXTS[template].values():
        assert str(value) in text
        assert str(value) in html


async def test_wait_for_takes_the_mail_after_a_count(tmp_path, smtp_server_module):
    mailer = make_mailer(tmp_path, smtp_server_module)
    await mailer.send("bob@example.org", "verify_code", **dict(CONTEXTS["verify_code"], code="1"))
    seen = len(smtp_server_module.messages)

    await mailer.send("bob@example.org", "verify_code", **dict(CONTEXTS["verify_code"], code="2"))

    text, _ = text_and_html(await smtp_server_module.wait_for_async("bob@example.org", after=seen))
    assert "    2\n" in text
    with pytest.raises(AssertionError, match="no mail to carl@example.org"):
        await smtp_server_module.wait_for_async("carl@example.org", after=seen, timeout=0.2)


# course overrides -----------------------------------------------------------------


async def test_course_template_replaces_the_text_and_drops_the_default_html(tmp_path, smtp_server):
    course_mail = tmp_path / "course-mail"
    course_mail.mkdir()
    (course_mail / "verify_code.txt").write_text(
        "Subject: Data 101 sign-up code\n\nHi {{ username }}, type {{ code }} to join Data 101.\n"
    )
    mailer = make_mailer(tmp_path, smtp_server, template_paths=[str(course_mail)])

    await mailer.send("ann@example.org", "verify_code", **CONTEXTS["verify_code"])
    await mailer.send("ann@example.org", "reset_link", **CONTEXTS["reset_link"])

    verify, reset = smtp_server.messages
    assert verify["Subject"] == "Data 101 sign-up code"
    text, html = text_and_html(verify)
    assert text == f"Hi ann, type {CODE} to join Data 101.\n"
    # coursehub's HTML would say something else than the course's text
    assert html is None
    # templates the course does not override are coursehub's
    assert reset["Subject"] == "Reset your Data 101 Hub password"
    assert RESET_LINK in text_and_html(reset)[1]


# STARTTLS and AUTH -------------------------------------------------------------------


def tls_mailer(tmp_path, server, **options) -> Mailer:
    settings = dict(
        smtp_host=server.host,
        smtp_port=server.port,
        smtp_security="starttls",
        smtp_user=server.user,
        smtp_password=server.password,
        smtp_validate_certs=False,  # the test server's certificate is self-signed
    )
    settings.update(options)
    return make_mailer(tmp_path, **settings)


async def test_starttls_and_login_deliver(tmp_path, smtp_tls_server):
    await tls_mailer(tmp_path, smtp_tls_server).send(
        "ann@example.org", "reset_link", **CONTEXTS["reset_link"]
    )

    # the server refuses mail before STARTTLS and a login: arriving proves both
    message = await smtp_tls_server.wait_for_async("ann@example.org")
    assert RESET_LINK in text_and_html(message)[0]


async def test_wrong_password_is_a_mail_error_naming_the_server_not_the_password(
    tmp_path, smtp_tls_server
):
    mailer = tls_mailer(tmp_path, smtp_tls_server, smtp_password="not-the-password")

    with pytest.raises(MailError) as failure:
        await mailer.send("ann@example.org", "verify_code", **CONTEXTS["verify_code"])

    assert f"127.0.0.1:{smtp_tls_server.port}" in str(failure.value)
    assert "not-the-password" not in str(failure.value)
    assert CODE not in str(failure.value)
    assert smtp_tls_server.messages == []


async def test_self_signed_certificate_is_refused_by_default(tmp_path, smtp_tls_server):
    mailer = tls_mailer(tmp_path, smtp_tls_server, smtp_validate_certs=True)

    with pytest.raises(MailError, match=f"127.0.0.1:{smtp_tls_server.port}"):
        await mailer.send("ann@example.org", "verify_code", **CONTEXTS["verify_code"])


# the Maildir fallback ----------------------------------------------------------------


async def test_without_smtp_mail_goes_to_the_maildir_announced_once(tmp_path, caplog):
    mailer = make_mailer(tmp_path)
    maildir = tmp_path / "maildir"
    assert mailer.mode == "maildir"
    assert mailer.describe() == f"maildir {maildir}"
    caplog.set_level(logging.INFO, logger=LOG_NAME)

    await mailer.send("ann@example.org", "verify_code", **CONTEXTS["verify_code"])
    await mailer.send("bob@example.org", "reset_link", **CONTEXTS["reset_link"])

    stored = [
        email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
        for message in mailbox.Maildir(maildir, create=False)
    ]
    by_recipient = {message["To"]: message for message in stored}
    assert sorted(by_recipient) == ["ann@example.org", "bob@example.org"]
    assert CODE in text_and_html(by_recipient["ann@example.org"])[0]
    # the mails hold codes and reset links: only their owner may read them
    assert stat.S_IMODE(maildir.stat().st_mode) == 0o700
    announcements = [r for r in caplog.records if str(maildir) in r.getMessage()]
    assert len(announcements) == 1
    assert announcements[0].levelno == logging.WARNING


# the health check --------------------------------------------------------------------


async def test_check_is_ok_for_a_live_server_and_remembers_it(tmp_path, smtp_server):
    mailer = make_mailer(tmp_path, smtp_server)
    assert await mailer.check() == "ok"

    smtp_server.stop()
    # within check_interval the health endpoint gets the last answer, not a new probe
    assert await mailer.check() == "ok"
    mailer.check_interval = 0
    with pytest.raises(MailError, match=f"127.0.0.1:{smtp_server.port}"):
        await mailer.check()


async def test_check_after_login_over_starttls(tmp_path, smtp_tls_server):
    assert await tls_mailer(tmp_path, smtp_tls_server).check() == "ok"
    with pytest.raises(MailError):
        await tls_mailer(tmp_path, smtp_tls_server, smtp_password="wrong").check()


async def test_check_raises_for_a_closed_port(tmp_path, smtp_server):
    smtp_server.stop()  # nothing listens on its port any more
    mailer = make_mailer(tmp_path, smtp_server)

    with pytest.raises(MailError, match=f"127.0.0.1:{smtp_server.port}"):
        await mailer.check()


async def test_check_of_the_maildir(tmp_path):
    assert await make_mailer(tmp_path).check() == "ok"
    assert (tmp_path / "maildir" / "new").is_dir()

    (tmp_path / "a-file").write_text("")
    blocked = Mailer(sender=SENDER, maildir=tmp_path / "a-file" / "maildir")
    with pytest.raises(MailError, match="a-file"):
        await blocked.check()


# secrets stay out of logs ------------------------------------------------------------


async def test_no_log_line_holds_a_code_or_a_link(tmp_path, caplog, smtp_server, smtp_tls_server):
    caplog.set_level(logging.DEBUG)
    secrets = [CODE, RESET_LINK, "s3cr3t-reset-token", smtp_tls_server.password]

    for mailer in (
        make_mailer(tmp_path / "smtp", smtp_server),
        tls_mailer(tmp_path / "tls", smtp_tls_server),
        make_mailer(tmp_path / "maildir"),
    ):
        await mailer.send("ann@example.org", "verify_code", **CONTEXTS["verify_code"])
        await mailer.send("ann@example.org", "reset_link", **CONTEXTS["reset_link"])
    with pytest.raises(MailError):
        await tls_mailer(tmp_path, smtp_tls_server, smtp_password="wrong").send(
            "ann@example.org", "reset_link", **CONTEXTS["reset_link"]
        )

    # the test server's own debug log ("mail.log") shows the raw SMTP exchange
    ours = [r for r in caplog.records if r.name != "mail.log"]
    assert any(r.name == LOG_NAME for r in ours)
    for record in ours:
        line = record.getMessage()
        assert not any(secret in line for secret in secrets), line
