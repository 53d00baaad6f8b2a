"""The Huey instance of this installation, enqueueing jobs, and its consumers.

Huey, because it is the maintained queue with both SQLite storage (the zero-set-up default:
the queue keeps its own file beside the app's database) and Redis storage (several
instances), and runs its consumer in threads, so it can live inside the web process as well
as in ``processlens worker``. What it lacks, acknowledgement of a task, the job row and the
sweeper make up for (app.jobs).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from huey import Huey, RedisHuey, SqliteHuey
from huey.consumer import Consumer, Scheduler
from sqlalchemy import Engine, make_url

from app.config import Settings
from app.jobs import runner, sweeper

logger = logging.getLogger(__name__)
# Huey logs every task at INFO; the consumer's start and stop lines stay, and our own lines
# (a job's attempts, the sweeper's runs) say more
logging.getLogger("huey").setLevel(logging.WARNING)
logging.getLogger("huey.consumer").setLevel(logging.INFO)

QUEUE_FILE = "queue.db"


def queue_name(settings: Settings) -> str:
    """One queue per database: installations (or tests) sharing a Redis never take each
    other's messages."""
    digest = hashlib.sha256(settings.resolved_database_url.encode()).hexdigest()[:12]
    return f"processlens-{digest}"


def queue_file(settings: Settings) -> Path:
    """The SQLite queue's own file: beside the app's SQLite database, else in the data folder."""
    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        database = Path(url.database)
        return database.with_name(f"{database.stem}-{QUEUE_FILE}")
    return settings.data_dir / QUEUE_FILE


def _storage(settings: Settings) -> Huey:
    if settings.redis_url:
        return RedisHuey(queue_name(settings), url=settings.redis_url, results=False)
    path = queue_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(queue_name(settings), filename=str(path), results=False)


class JobQueue:
    """This process's view of the queue: ``enqueue`` a job, or consume (embedded or not).

    ``handlers`` maps each job kind to its domain's handler; ``role`` (web or worker) is
    recorded on the jobs this process runs.
    """

    def __init__(
        self,
        *,
        settings: Settings,
        engine: Engine,
        handlers: Mapping[str, runner.Handler],
        role: str,
    ) -> None:
        self.settings = settings
        self._engine = engine
        self.huey = _storage(settings)
        self.stopping = threading.Event()

        def run_job(job_id: int) -> None:
            runner.run_job(
                engine=engine,
                settings=settings,
                job_id=job_id,
                handlers=handlers,
                role=role,
                stopping=self.stopping,
            )

        def sweep_jobs() -> None:
            period = settings.job_sweep_seconds
            who = runner.worker_name(role)
            try:
                if sweeper.claim_slot(
                    engine=engine, task=sweeper.SWEEP, period_seconds=period, ran_by=who
                ):
                    logger.info("scheduled task %s ran here (%s)", sweeper.SWEEP, who)
                    self.sweep()
            except Exception:  # a busy or unreachable database: the next period tries again
                logger.exception("scheduled task %s failed", sweeper.SWEEP)

        self._run_job = self.huey.task(name="run_job")(run_job)
        self._sweep_jobs = sweep_jobs

    def sweep(self) -> sweeper.SweepOutcome:
        """One sweep (the scheduler runs it once per period across processes)."""
        return sweeper.sweep(
            engine=self._engine,
            settings=self.settings,
            enqueue=self.enqueue,
            in_queue=self.waiting_jobs,
        )

    def waiting_jobs(self) -> list[int]:
        """The jobs whose "run job N" message waits in the queue (not yet taken)."""
        name = self._run_job.name
        return [int(task.args[0]) for task in self.huey.pending() if task.name == name]

    def enqueue(self, job_id: int) -> None:
        """Send "run job N" (after the job's row is committed). If the queue cannot be
        reached the job stays queued and the sweeper sends it again."""
        try:
            self._run_job(job_id)
        except Exception:
            logger.exception("job %s: could not be queued; the sweeper will try again", job_id)

    def consumer(self, *, workers: int = 1, embedded: bool = False) -> Consumer:
        """A Huey consumer whose scheduler runs the sweep every ``job_sweep_seconds`` (an
        embedded one first after a period, a worker's at once)."""
        period = float(self.settings.job_sweep_seconds)
        first_after = period if embedded else 0.0
        sweep_jobs = self._sweep_jobs

        class _Scheduler(Scheduler):  # type: ignore[misc]
            """Huey's scheduler, whose periodic step is the sweep itself: run on the
            scheduler's thread rather than queued, it never waits behind a long job (nor
            piles up in the queue while every worker thread is busy)."""

            periodic_task_seconds = period

            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                self._next_periodic = time.monotonic() + first_after

            def enqueue_periodic_tasks(self, now: Any) -> None:
                sweep_jobs()

        class _Consumer(_EmbeddedConsumer if embedded else Consumer):  # type: ignore[misc]
            scheduler_class = _Scheduler

        return _Consumer(
            self.huey,
            workers=workers,
            worker_type="thread",
            periodic=True,
            scheduler_interval=1,
            max_delay=1.0,  # an idle SQLite queue is polled at least once a second
            check_worker_health=True,
        )

    def start_embedded(self) -> Consumer:
        """Consume in threads of this web process (stop with ``consumer.stop()``). Its first
        sweep waits a period: a web process that starts and stops (a test, a restart) does
        not sweep on every start."""
        consumer = self.consumer(embedded=True)
        consumer.start()
        return consumer

    def stop(self, consumer: Consumer) -> None:
        """Stop consuming. A job under way ends its attempt without another write (before the
        render pool closes under it), and the sweeper hands it to a worker that runs."""
        self.stopping.set()
        consumer.stop()


class _EmbeddedConsumer(Consumer):  # type: ignore[misc]
    """A consumer inside the web server: the server owns the process's signals."""

    def _set_signal_handlers(self) -> None:
        pass
