"""Handing one message over: to the SMTP server, or to the outbox folder when only the demo's
outbox is configured. Nothing here logs an address or a message."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path

from app.config import Settings

OUTBOX_DIR = "outbox"
OUTBOX_LABEL = "X-ProcessLens-Outbox"
SMTP_TIMEOUT_SECONDS = 30
# the outboxes this process wrote to, so closing a round can remove its files without settings
_OUTBOXES: set[Path] = set()


class MailRefusedError(Exception):
    """The SMTP server refused the message for good (a 5xx answer): retrying cannot help."""


class MailNotHandedOverError(Exception):
    """The message could not be handed over now (no connection, a 4xx answer): try later."""


def outbox_dir(settings: Settings) -> Path:
    return settings.data_dir / OUTBOX_DIR


def deliver(settings: Settings, message: EmailMessage, *, file_stem: str) -> None:
    """Send ``message``; with no SMTP server, write it to the outbox as ``file_stem``.eml."""
    if not settings.smtp_host:
        _write_to_outbox(settings, message, file_stem)
        return
    try:
        with _connect(settings) as smtp:
            smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as error:
        codes = [code for code, _text in error.recipients.values()]
        if all(code >= 500 for code in codes):
            raise MailRefusedError(f"recipient refused ({codes[0]})") from None
        raise MailNotHandedOverError(f"recipient deferred ({codes[0]})") from None
    except smtplib.SMTPResponseException as error:
        if error.smtp_code >= 500:
            raise MailRefusedError(f"refused ({error.smtp_code})") from None
        raise MailNotHandedOverError(f"deferred ({error.smtp_code})") from None
    except (OSError, smtplib.SMTPException) as error:
        raise MailNotHandedOverError(type(error).__name__) from None


def _connect(settings: Settings) -> smtplib.SMTP:
    host = settings.smtp_host or ""
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if settings.smtp_security == "tls":
        smtp = smtplib.SMTP_SSL(
            host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS, context=context
        )
    else:
        smtp = smtplib.SMTP(host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS)
        if settings.smtp_security == "starttls":
            smtp.starttls(context=context)
    if settings.smtp_user:
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
        smtp.login(settings.smtp_user, password)
    return smtp


def _write_to_outbox(settings: Settings, message: EmailMessage, file_stem: str) -> None:
    folder = outbox_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    _OUTBOXES.add(folder)
    del message[OUTBOX_LABEL]
    message[OUTBOX_LABEL] = "not sent (no SMTP server is configured)"
    subject = str(message["Subject"] or "")
    del message["Subject"]
    message["Subject"] = f"[not sent: outbox] {subject}"
    target = folder / f"{file_stem}.eml"
    partial = target.with_suffix(".part")
    partial.write_bytes(message.as_bytes())
    partial.replace(target)


def forget_files(prefix: str) -> int:
    """Delete the outbox files whose names start with ``prefix`` (a closed round's) in every
    outbox this process has written to."""
    removed = 0
    for folder in list(_OUTBOXES):
        for path in folder.glob(f"{prefix}*"):
            path.unlink(missing_ok=True)
            removed += 1
    return removed
