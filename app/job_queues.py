"""A process's job queue with every kind of long job it runs, and its e-mail tasks on the same
consumer: built in one place, so the web's embedded consumer and `processlens worker` always
run the same jobs."""

from __future__ import annotations

import dataclasses

from sqlalchemy import Engine

from app.accounts import setup_import
from app.config import Settings
from app.jobs import queue
from app.mail import outgoing
from app.reports import jobs as report_jobs
from app.rubric.loader import Catalog
from app.surveys import email_invitations
from app.workspace import organisation_rescore


@dataclasses.dataclass(frozen=True)
class Queues:
    jobs: queue.JobQueue
    mail: outgoing.MailQueue


def build(*, settings: Settings, engine: Engine, catalog: Catalog, role: str) -> Queues:
    """The job queue (team-report batches, organisation reports, set-up imports, organisation
    rescores) and the mail tasks (invitations, reminders) of a web process or a worker
    (``role``)."""
    jobs = queue.JobQueue(
        settings=settings,
        engine=engine,
        handlers=report_jobs.handlers(catalog)
        | setup_import.handlers()
        | organisation_rescore.handlers(catalog),
        role=role,
    )
    return Queues(jobs=jobs, mail=email_invitations.mail_queue(jobs, engine=engine, role=role))
