"""The job queue for long tasks: Huey carries "run job N" messages, the ``report_job`` row is
the source of truth.

Huey (SQLite storage beside the app's database by default, Redis storage when ``REDIS_URL``
is set) delivers the messages and runs the consumer, embedded in each web process or as
``processlens worker``. Huey does not acknowledge tasks, so a consumer killed mid-task loses
its message: the row therefore carries a claim (``run_token``), a heartbeat and the pieces
already made (``job_file``), and a sweeper that runs once per period re-queues a job whose
heartbeat stopped, which resumes where the dead worker left off.

- ``runner``: claiming a job, its heartbeat, progress, pieces, finishing and failing (the
  output is a ``job_file`` row, so every instance serves it).
- ``sweeper``: the periodic task, gated by ``scheduled_run`` so it runs once per period.
- ``queue``: the Huey instance, enqueueing, and the consumers (embedded and standalone).
- ``status``: how a job of any kind reads on its progress page and in the API ("stopped"
  when no worker has touched it for long).

What a job of each kind does lives in its domain (``app.reports.jobs``), handed to the queue
by the edges as a mapping of kind to handler.
"""
