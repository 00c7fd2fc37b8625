"""Delivering the weekly report by mail: one SMTP message, text and HTML, with attachments.

`deliver_report` sends a ``multipart/alternative`` message (the Markdown report as
``text/plain``, the HTML report as ``text/html``) inside a ``multipart/mixed`` one when
there are attachments (the report's CSV files), through the mail server of `SmtpConfig`:
``smtplib.SMTP`` upgraded with STARTTLS (port 587, the default), or ``smtplib.SMTP_SSL``
(TLS from the start, port 465), then a login when a user is configured. Every failure
(the server cannot be reached, TLS fails, the login or a recipient is refused) is one
`DeliveryError` naming the server and the reason, never the password.

Rendering is not done here (`reports.render` renders a review); this only sends.
"""

from __future__ import annotations

import logging
import mimetypes
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from ssl import SSLContext
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from impactlens.errors import (
    DeliveryError,
    DeliveryUnreachableError,
    InvalidSettingsError,
    excerpt,
)

if TYPE_CHECKING:
    from impactlens.settings import Settings

__all__ = ["Attachment", "SmtpConfig", "deliver_report"]

log = logging.getLogger(__name__)
SMTPS_PORT = 465  # SMTP over TLS from the first byte (RFC 8314)


@dataclass(frozen=True)
class Attachment:
    """A file attached to the report mail: its name, bytes and MIME type."""

    filename: str
    content: bytes
    mime_type: str = "application/octet-stream"

    @classmethod
    def from_path(cls, path: str | Path) -> Attachment:
        """The file at `path`, its type guessed from its name (``.csv``: ``text/csv``)."""
        file = Path(path)
        try:
            content = file.read_bytes()
        except OSError as error:
            raise DeliveryError(
                f"attachment {file}: cannot be read ({error.strerror or error})"
            ) from None
        mime_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        return cls(file.name, content, mime_type)


@dataclass(frozen=True)
class SmtpConfig:
    """The mail server and the addresses of the report mail.

    ``ssl``: TLS from the start (``SMTP_SSL``, port 465) instead of STARTTLS;
    ``ssl_context``: the TLS settings (default: the system's trusted certificates, host
    names checked), for a server whose certificate an internal CA signed.
    """

    host: str
    sender: str
    recipients: tuple[str, ...]
    port: int = 587
    user: str = ""
    password: SecretStr | None = field(default=None, repr=False)
    starttls: bool = True
    ssl: bool = False
    timeout: float = 30.0
    ssl_context: SSLContext | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        missing = [
            variable
            for variable, value in (
                ("IMPACTLENS_SMTP_HOST", self.host),
                ("IMPACTLENS_SMTP_FROM", self.sender),
                ("IMPACTLENS_SMTP_TO", self.recipients),
            )
            if not value
        ]
        if missing:
            raise InvalidSettingsError(
                f"the report mail cannot be sent without {', '.join(missing)}"
            )
        if self.user and self.password is None:
            raise InvalidSettingsError(
                "IMPACTLENS_SMTP_USER is set without IMPACTLENS_SMTP_PASSWORD"
            )

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> SmtpConfig:
        """The ``smtp_*`` settings as a config; port 465 means TLS from the start."""
        values: dict[str, Any] = {
            "host": settings.smtp_host,
            "port": settings.smtp_port,
            "user": settings.smtp_user,
            "password": settings.smtp_password,
            "starttls": settings.smtp_starttls and settings.smtp_port != SMTPS_PORT,
            "ssl": settings.smtp_port == SMTPS_PORT,
            "sender": settings.smtp_from,
            "recipients": tuple(settings.smtp_to),
        }
        return cls(**(values | overrides))

    @property
    def server(self) -> str:
        """How messages name the server: ``host:port``."""
        return f"{self.host}:{self.port}"


def deliver_report(
    *,
    subject: str,
    markdown: str,
    html: str,
    attachments: Sequence[Attachment | str | Path] = (),
    config: SmtpConfig,
) -> None:
    """Send the report to ``config.recipients``: text and HTML, with `attachments`.

    Raises
    ------
    DeliveryError
        The server cannot be reached or refuses the connection, TLS, the login, the
        sender or a recipient; one line naming the server and the reason. When some
        recipients are refused, the others have been sent the mail: the error says who.
    """
    message = build_message(
        subject=subject, markdown=markdown, html=html, attachments=attachments, config=config
    )
    refused = _send(message, config)
    if refused:
        shown = ", ".join(f"{address} ({reason})" for address, reason in refused.items())
        delivered = [r for r in config.recipients if r not in refused]
        raise DeliveryError(
            f"mail server {config.server} refused recipients {shown}; the report was sent "
            f"to {', '.join(delivered) or 'nobody'}"
        )
    log.info(
        "report %r sent to %d recipients via %s", subject, len(config.recipients), config.server
    )


def build_message(
    *,
    subject: str,
    markdown: str,
    html: str,
    attachments: Sequence[Attachment | str | Path] = (),
    config: SmtpConfig,
) -> EmailMessage:
    """The report mail as `deliver_report` sends it (no network)."""
    message = EmailMessage()
    # One line: a line break in a header would start another header.
    message["Subject"] = " ".join(subject.split())
    message["From"] = config.sender
    message["To"] = ", ".join(config.recipients)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    domain = config.sender.rpartition("@")[2].strip(" >") or None
    message["Message-ID"] = make_msgid(domain=domain)
    message.set_content(markdown, subtype="plain", charset="utf-8")
    message.add_alternative(html, subtype="html", charset="utf-8")
    for item in attachments:
        attachment = item if isinstance(item, Attachment) else Attachment.from_path(item)
        maintype, _, subtype = attachment.mime_type.partition("/")
        message.add_attachment(
            attachment.content,
            maintype=maintype,
            subtype=subtype or "octet-stream",
            filename=attachment.filename,
        )
    return message


def _send(message: EmailMessage, config: SmtpConfig) -> dict[str, str]:
    """Send `message`; the recipients refused, with the server's reasons."""
    context = config.ssl_context or ssl.create_default_context()
    where = f"mail server {config.server}"
    try:
        server: smtplib.SMTP
        if config.ssl:
            server = smtplib.SMTP_SSL(
                config.host, config.port, timeout=config.timeout, context=context
            )
        else:
            server = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
        with server:
            server.ehlo()
            if config.starttls and not config.ssl:
                if not server.has_extn("starttls"):
                    raise DeliveryError(f"{where} does not offer STARTTLS (smtp_starttls is on)")
                server.starttls(context=context)
                server.ehlo()
            if config.user and config.password is not None:
                if not server.has_extn("auth"):
                    hint = "" if config.ssl or config.starttls else " (turn smtp_starttls on?)"
                    raise DeliveryError(f"{where} offers no login (AUTH) on this connection{hint}")
                server.login(config.user, config.password.get_secret_value())
            refused = server.send_message(
                message, from_addr=config.sender, to_addrs=list(config.recipients)
            )
    except smtplib.SMTPAuthenticationError as error:
        raise DeliveryError(
            f"{where} refused the login of user {excerpt(config.user)} "
            f"({_reply(error.smtp_code, error.smtp_error, config)})"
        ) from None
    except smtplib.SMTPRecipientsRefused as error:
        shown = ", ".join(
            f"{address} ({_reply(code, text, config)})"
            for address, (code, text) in error.recipients.items()
        )
        raise DeliveryError(f"{where} refused every recipient: {shown}") from None
    except smtplib.SMTPSenderRefused as error:
        raise DeliveryError(
            f"{where} refused the sender {config.sender} "
            f"({_reply(error.smtp_code, error.smtp_error, config)})"
        ) from None
    except smtplib.SMTPNotSupportedError as error:
        raise DeliveryError(f"{where}: {_text(str(error), config)}") from None
    except smtplib.SMTPResponseException as error:
        raise DeliveryError(
            f"{where}: {_reply(error.smtp_code, error.smtp_error, config)}"
        ) from None
    except smtplib.SMTPException as error:  # disconnected, no reply, ...
        raise DeliveryError(f"{where}: {_text(str(error), config)}") from None
    except ssl.SSLError as error:
        raise DeliveryError(
            f"{where}: TLS failed ({_text(error.reason or str(error), config)})"
        ) from None
    except OSError as error:  # refused, unknown host, timed out, unreachable
        reason = error.strerror or str(error) or type(error).__name__
        raise DeliveryUnreachableError(f"cannot reach {where} ({_text(reason, config)})") from None
    return {address: _reply(code, text, config) for address, (code, text) in refused.items()}


def _reply(code: int, text: bytes | str, config: SmtpConfig) -> str:
    decoded = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {_text(decoded, config)}"


def _text(text: str, config: SmtpConfig) -> str:
    """One short line of a server's words, with the password blotted out should a server
    ever echo it."""
    line = " ".join(text.split())
    if config.password is not None and config.password.get_secret_value():
        line = line.replace(config.password.get_secret_value(), "**********")
    return excerpt(line, 200, quote=False)
