"""A real SMTP server on 127.0.0.1 (aiosmtpd) for the e-mail tests, and an app on a database of
its own that sends to it through its embedded job queue."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from collections.abc import Callable, Iterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope
from aiosmtpd.smtp import Session as SmtpSession
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app import db
from app.config import Settings
from app.main import create_app

# addresses the server refuses at sending time, as a mail server refuses an unknown mailbox
REFUSED_PREFIX = "refused"


@dataclasses.dataclass
class Received:
    recipients: tuple[str, ...]
    message: EmailMessage


class Mailbox:
    """What the server received, each message parsed as MIME."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._lock = threading.Lock()

    async def handle_RCPT(
        self, server: SMTP, session: SmtpSession, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address.startswith(REFUSED_PREFIX):
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        parsed = BytesParser(policy=policy.default).parsebytes(content)
        assert isinstance(parsed, EmailMessage)
        with self._lock:
            self.received.append(Received(tuple(envelope.rcpt_tos), parsed))
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        return [r.message for r in self.received if address in r.recipients]

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        """Wait until ``count`` messages have arrived (sending goes through the queue)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.received) >= count:
                return list(self.received)
            time.sleep(0.05)
        raise AssertionError(f"{len(self.received)} of {count} messages arrived in {timeout}s")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    port = _free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


@pytest.fixture
def mailbox(smtp_server: tuple[Mailbox, int]) -> Mailbox:
    return smtp_server[0]


@pytest.fixture
def mail_settings(
    fresh_database_url: str,
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    smtp_server: tuple[Mailbox, int],
) -> Settings:
    """Settings that send to the test's SMTP server, with a quick periodic task."""
    settings: Settings = make_settings(
        fresh_database_url,
        data_dir=tmp_path / "data",
        smtp_host="127.0.0.1",
        smtp_port=smtp_server[1],
        smtp_security="none",
        mail_from="Team survey <survey@example.com>",
        job_sweep_seconds=1,
    )
    return settings


@pytest.fixture
def mail_engine(mail_settings: Settings) -> Iterator[Engine]:
    engine = db.create_db_engine(mail_settings)
    yield engine
    engine.dispose()


@pytest.fixture
def mail_app(mail_settings: Settings) -> Iterator[FastAPI]:
    application = create_app(mail_settings)
    yield application
    application.state.engine.dispose()


@pytest.fixture
def mail_client(mail_app: FastAPI) -> Iterator[TestClient]:
    """The app with its embedded job consumer running (it sends the messages)."""
    with TestClient(mail_app) as client:
        yield client
    wait_for_consumer_threads()


def wait_for_consumer_threads() -> None:
    """A stopped consumer's threads finish the task under way on their own: wait, so none
    still holds a connection when the engine is disposed."""
    for thread in threading.enumerate():
        if thread.name.startswith(("Worker-", "Scheduler")):
            thread.join(timeout=15)
