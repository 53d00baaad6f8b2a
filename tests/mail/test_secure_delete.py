"""After close, the addresses invited by e-mail are gone from the SQLite files themselves, not
only from the tables: SQLite keeps deleted rows' bytes in free pages and old page copies in
the write-ahead log unless told otherwise (issue 22: "found nowhere")."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, make_url

from app.config import Settings
from app.jobs import queue
from tests.mail.conftest import Mailbox
from tests.mail.test_invitations import ADDRESSES, _invite, _setup


def _files(database: Path) -> list[Path]:
    """A SQLite database and the write-ahead log and shared-memory files beside it."""
    return [database, *(database.with_name(database.name + s) for s in ("-wal", "-shm"))]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_after_close_no_address_is_left_in_the_database_files_or_the_queue_file(
    mail_client: TestClient, mail_engine: Engine, mail_settings: Settings, mailbox: Mailbox
) -> None:
    # deleted rows are zeroed on every build (Debian's SQLite does it by default; others not)
    with mail_engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
    lead, round_id = _setup(mail_engine, mail_settings)
    _invite(mail_client, lead, round_id)
    mailbox.wait_for(3)
    url = f"{lead.team_url}/rounds/{round_id}"
    assert mail_client.post(f"{url}/email/remind", headers=lead.headers).status_code == 200
    mailbox.wait_for(6)

    database = Path(make_url(mail_settings.database_url).database or "")
    addresses = [a for addresses in ADDRESSES.values() for a in addresses]
    # the addresses are in the files while the round is open (the test can see them) ...
    before = b"".join(path.read_bytes() for path in _files(database) if path.exists())
    assert any(address.encode() in before for address in addresses)

    closed = mail_client.post(f"{url}/close", headers=lead.headers, follow_redirects=False)
    assert closed.status_code == 303

    # ... and after close in none of them, nor in the job queue's files
    queue_file = queue.queue_file(mail_settings)
    for path in [*_files(database), *_files(queue_file)]:
        if not path.exists():
            continue
        content = path.read_bytes()
        for address in addresses:
            for needle in (address, address.split("@")[0]):
                assert needle.encode() not in content, f"{needle} is still in {path.name}"
