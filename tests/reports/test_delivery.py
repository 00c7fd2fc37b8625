"""Mailing the report through a real SMTP server on 127.0.0.1 (aiosmtpd).

The server requires STARTTLS (or TLS from the start, on the SMTPS test) with a
self-signed certificate made here for 127.0.0.1, and a login, before it takes mail.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from impactlens.reports.delivery import Attachment, SmtpConfig, build_message, deliver_report
from pydantic import SecretStr

from impactlens.errors import DeliveryError, InvalidSettingsError
from impactlens.settings import Settings

USER, PASSWORD = "reports@example.org", "m4il-s3cret!"
MARKDOWN = "# Week 2026-W47\n\n| process | minutes lost |\n|---|---|\n| Order to cash | 42 |\n"
HTML = "<h1>Week 2026-W47</h1><table><tr><td>Order to cash</td><td>42</td></tr></table>"
CSV = b"incident_id,impact_score\nINC0010001,12.5\n"


@dataclass
class Inbox:
    """What the server received: one entry per message."""

    messages: list[dict[str, Any]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            {
                "from": envelope.mail_from,
                "to": list(envelope.rcpt_tos),
                "content": envelope.original_content or envelope.content,
                "tls": server.transport.get_extra_info("ssl_object") is not None,
                "authenticated": session.authenticated,
            }
        )
        return "250 Message accepted for delivery"


def authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (
        auth_data.login.decode() == USER and auth_data.password.decode() == PASSWORD
    )
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key (PEM files)."""
    x509 = pytest.importorskip(
        "cryptography.x509", reason="cryptography makes the test certificate"
    )
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class MailServer:
    inbox: Inbox
    port: int
    client_context: ssl.SSLContext

    def config(self, **overrides: Any) -> SmtpConfig:
        values: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": self.port,
            "user": USER,
            "password": SecretStr(PASSWORD),
            "sender": "impactlens@example.org",
            "recipients": ("lead@example.org", "cio@example.org"),
            "ssl_context": self.client_context,
            "timeout": 5,
        }
        return SmtpConfig(**(values | overrides))


def start(certificate: tuple[Path, Path], *, implicit_tls: bool) -> tuple[Controller, MailServer]:
    cert_file, key_file = certificate
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_file, key_file)
    client_context = ssl.create_default_context(cafile=str(cert_file))
    inbox, port = Inbox(), free_port()
    options: dict[str, Any] = {"authenticator": authenticator, "auth_require_tls": True}
    if implicit_tls:
        # aiosmtpd counts only STARTTLS as TLS for AUTH; this connection is TLS throughout
        options.update(ssl_context=server_context, auth_require_tls=False)
    else:
        options.update(tls_context=server_context, require_starttls=True)
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    return controller, MailServer(inbox, port, client_context)


@pytest.fixture
def mail_server(certificate) -> Iterator[MailServer]:
    controller, server = start(certificate, implicit_tls=False)
    try:
        yield server
    finally:
        controller.stop()


def parsed(content: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(content, policy=email.policy.default)  # type: ignore[return-value]


def test_the_report_arrives_with_both_parts_and_its_attachment_over_starttls(mail_server, tmp_path):
    csv_file = tmp_path / "incident_scores.csv"
    csv_file.write_bytes(CSV)

    deliver_report(
        subject="Impact report 2026-W47",
        markdown=MARKDOWN,
        html=HTML,
        attachments=[csv_file, Attachment("kpis.json", b'{"weeks": 1}', "application/json")],
        config=mail_server.config(),
    )

    (received,) = mail_server.inbox.messages
    assert received["from"] == "impactlens@example.org"
    assert received["to"] == ["lead@example.org", "cio@example.org"]
    assert received["tls"] and received["authenticated"]
    message = parsed(received["content"])
    assert message["Subject"] == "Impact report 2026-W47"
    assert message["To"] == "lead@example.org, cio@example.org"
    assert message.get_content_type() == "multipart/mixed"
    alternative = message.get_payload()[0]
    assert alternative.get_content_type() == "multipart/alternative"
    # (lines end in CRLF on the wire)
    assert message.get_body(("plain",)).get_content().replace("\r\n", "\n") == MARKDOWN
    assert message.get_body(("html",)).get_content().strip() == HTML
    files = {part.get_filename(): part for part in message.iter_attachments()}
    assert files["incident_scores.csv"].get_content_type() == "text/csv"
    assert files["incident_scores.csv"].get_payload(decode=True) == CSV
    assert files["kpis.json"].get_payload(decode=True) == b'{"weeks": 1}'


def test_without_attachments_the_message_is_the_alternative_itself(mail_server):
    deliver_report(
        subject="W47", markdown=MARKDOWN, html=HTML, attachments=(), config=mail_server.config()
    )

    message = parsed(mail_server.inbox.messages[0]["content"])
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]


def test_a_wrong_password_is_one_error_naming_the_server_and_not_the_password(mail_server):
    with pytest.raises(DeliveryError) as refused:
        deliver_report(
            subject="W47",
            markdown=MARKDOWN,
            html=HTML,
            config=mail_server.config(password=SecretStr("wrong-" + PASSWORD)),
        )

    message = str(refused.value)
    assert message == (
        f"mail server 127.0.0.1:{mail_server.port} refused the login of user "
        "'reports@example.org' (535 5.7.8 Authentication credentials invalid)"
    )
    assert PASSWORD not in message and "\n" not in message
    assert PASSWORD not in repr(mail_server.config())
    assert mail_server.inbox.messages == []


def test_a_server_that_requires_starttls_refuses_a_plain_session(mail_server):
    with pytest.raises(DeliveryError) as refused:
        deliver_report(
            subject="W47", markdown=MARKDOWN, html=HTML, config=mail_server.config(starttls=False)
        )

    assert str(refused.value) == (
        f"mail server 127.0.0.1:{mail_server.port} offers no login (AUTH) on this connection "
        "(turn smtp_starttls on?)"
    )
    assert mail_server.inbox.messages == []


def test_an_untrusted_certificate_is_a_tls_error(mail_server):
    with pytest.raises(DeliveryError, match="TLS failed"):
        deliver_report(
            subject="W47",
            markdown=MARKDOWN,
            html=HTML,
            config=mail_server.config(ssl_context=ssl.create_default_context()),
        )


def test_tls_from_the_start_on_smtps(certificate):
    controller, server = start(certificate, implicit_tls=True)
    try:
        deliver_report(
            subject="W47",
            markdown=MARKDOWN,
            html=HTML,
            config=server.config(ssl=True, starttls=False),
        )
    finally:
        controller.stop()

    (received,) = server.inbox.messages
    assert received["tls"] and received["to"] == ["lead@example.org", "cio@example.org"]


def test_a_server_that_is_not_there_is_one_error_naming_it():
    config = SmtpConfig(
        host="127.0.0.1",
        port=free_port(),
        sender="impactlens@example.org",
        recipients=("lead@example.org",),
        timeout=5,
    )

    with pytest.raises(DeliveryError) as failed:
        deliver_report(subject="W47", markdown=MARKDOWN, html=HTML, config=config)

    assert str(failed.value) == f"cannot reach mail server {config.server} (Connection refused)"


def test_the_config_comes_from_the_settings():
    settings = Settings(
        smtp_host="mail.example.org",
        smtp_user=USER,
        smtp_password=PASSWORD,
        smtp_from="impactlens@example.org",
        smtp_to=["lead@example.org", "cio@example.org"],
    )

    config = SmtpConfig.from_settings(settings)

    assert (config.host, config.port, config.starttls, config.ssl) == (
        "mail.example.org",
        587,
        True,
        False,
    )
    assert config.recipients == ("lead@example.org", "cio@example.org")
    assert config.password is not None and config.password.get_secret_value() == PASSWORD
    smtps = SmtpConfig.from_settings(settings.model_copy(update={"smtp_port": 465}))
    assert (smtps.ssl, smtps.starttls) == (True, False)


def test_missing_addresses_or_password_are_settings_errors():
    with pytest.raises(InvalidSettingsError, match="IMPACTLENS_SMTP_HOST, IMPACTLENS_SMTP_TO"):
        SmtpConfig.from_settings(Settings(smtp_from="impactlens@example.org"))
    with pytest.raises(InvalidSettingsError, match="without IMPACTLENS_SMTP_PASSWORD"):
        SmtpConfig(host="h", sender="a@b", recipients=("c@d",), user="u")


def test_a_subject_with_a_line_break_stays_one_header():
    config = SmtpConfig(host="h", sender="a@example.org", recipients=("c@example.org",))

    message = build_message(
        subject="W47\r\nBcc: all@example.org", markdown="x", html="<p>x</p>", config=config
    )

    assert message["Subject"] == "W47 Bcc: all@example.org"
    assert message["Bcc"] is None
