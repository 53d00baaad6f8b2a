"""The e-mail tests' fixtures (a real SMTP server on 127.0.0.1 and an app that sends to it),
reused by the insider tests of e-mail invitations and reminders (test_insider.py)."""

from tests.mail.conftest import (  # noqa: F401 - fixtures, registered by importing them here
    mail_app,
    mail_client,
    mail_engine,
    mail_settings,
    mailbox,
    smtp_server,
)
