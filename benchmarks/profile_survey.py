"""Where one survey request's time goes: the answer page and the save, one at a time.

Seeds a SQLite database like benchmarks/survey.py, builds the production app and sends
REQUESTS answer-page GETs or saves through it one after the other (no network, no
concurrency: the pure per-request cost), for a sampling profiler to watch. The concurrent
picture (lock waits, two workers) comes from ``benchmarks/survey.py --profile DIR``, which
samples the live workers the same way.

py-spy is not a project dependency (``.venv/bin/pip install py-spy``)::

    py-spy record --format raw -r 500 -o page.txt -- \
        .venv/bin/python benchmarks/profile_survey.py --kind page
    .venv/bin/python benchmarks/profile_survey.py --summarise page.txt
"""

from __future__ import annotations

import argparse
import gc
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402

from app import migrate  # noqa: E402
from app.config import load_settings  # noqa: E402
from app.main import create_app  # noqa: E402
from benchmarks import floor_app, survey  # noqa: E402


class CollectorPauses:
    """The cyclic garbage collector's runs and pauses, per generation (``gc.callbacks``): a
    long generation-2 pause is a tail latency no profile of the request shows."""

    def __init__(self) -> None:
        self.runs = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self.longest = [0.0, 0.0, 0.0]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        generation = info["generation"]
        pause = time.perf_counter() - self._started
        self.runs[generation] += 1
        self.seconds[generation] += pause
        self.longest[generation] = max(self.longest[generation], pause)

    def summary(self) -> str:
        return "; ".join(
            f"generation {g}: {self.runs[g]} runs, {self.seconds[g] * 1000:.1f} ms in all, "
            f"longest {self.longest[g] * 1000:.1f} ms"
            for g in range(3)
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--kind", choices=("page", "save"), default="page")
    parser.add_argument(
        "--app", choices=("processlens", "floor"), default="processlens", help="which app"
    )
    parser.add_argument(
        "--unfrozen",
        action="store_true",
        help="leave the app's objects to the garbage collector (processlens serve freezes them)",
    )
    parser.add_argument("--summarise", type=Path, metavar="FILE", help="summarise a profile")
    args = parser.parse_args()
    if args.summarise:
        # the requests only: not start-up (imports, migrations, seeding) nor the client
        skipped = (
            "importlib._bootstrap",
            "profile_survey.py",
            "upgrade (app/migrate",
            "create_app (app/main.py",
            "seed_survey",
        )
        summary = survey.summarise_profile(args.summarise, top=70, exclude=skipped)
        sys.stdout.write(summary + "\n")
        return 0
    with tempfile.TemporaryDirectory(prefix="processlens-profile-") as scratch:
        settings = load_settings(
            environment="production",
            database_url=f"sqlite:///{Path(scratch) / 'profile.db'}",
            secret_key=secrets.token_urlsafe(48),
            data_dir=Path(scratch),
            log_level="WARNING",
        )
        migrate.upgrade(settings)
        respondents = survey.seed_survey(settings, 20)
        prefix = "/r"
        application = create_app(settings)
        if not args.unfrozen:  # as app.main.create_served_app does
            gc.collect()
            gc.freeze()
        if args.app == "floor":
            engine = floor_app.create_db_engine(settings.resolved_database_url)
            floor_app.create_tables(engine, [r.token for r in respondents])
            engine.dispose()
            os.environ["FLOOR_DATABASE_URL"] = settings.resolved_database_url
            with TestClient(application) as client:
                page = client.get(f"/r/{respondents[0].token}/questions?page=1")
            os.environ["FLOOR_PAGE_BYTES"] = str(len(page.content))
            application, prefix = floor_app.create_app(), "/floor"
        with TestClient(application) as client:
            for respondent in respondents:  # warm: caches, pool, first renders
                client.get(f"{prefix}/{respondent.token}/questions?page=1")
            survey._reset(respondents)
            pauses = CollectorPauses()
            gc.callbacks.append(pauses)
            started = time.perf_counter()
            cpu_started = time.process_time()
            for index in range(args.requests):
                respondent = respondents[index % len(respondents)]
                if args.kind == "page":
                    request = survey.page_request(respondent, prefix=prefix)
                    response = client.get(request.path, headers=request.headers)
                else:
                    request = survey.save_request(respondent, prefix=prefix)
                    response = client.post(
                        request.path, content=request.body, headers=request.headers
                    )
                    if args.app == "processlens":
                        request.check(response.status_code, response.content)
                if response.status_code != 200:
                    raise RuntimeError(f"{request.path}: {response.status_code}")
            seconds = time.perf_counter() - started
            cpu_seconds = time.process_time() - cpu_started
            gc.callbacks.remove(pauses)
    sys.stdout.write(
        f"{args.app} {args.kind}: {args.requests} requests one at a time in {seconds:.2f} s, "
        f"{seconds / args.requests * 1000:.2f} ms each, "
        f"CPU {cpu_seconds / args.requests * 1000:.2f} ms each (TestClient included)\n"
        f"garbage collector: {pauses.summary()}; {len(gc.get_objects())} objects tracked\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
