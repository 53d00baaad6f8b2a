"""A real ProcessLens server for load and failure tests, and respondents that fill it in.

``LiveServer`` runs ``processlens serve --workers N`` in a process group of its own on a free
127.0.0.1 port (several workers need a real server, not a TestClient), and can stop it
politely, kill it with SIGKILL, and start it again on the same database. Every test that starts
one stops it in a ``finally`` or a fixture teardown.

``fill_in`` is one respondent doing the whole survey as a browser without JavaScript would
(HTML forms, Post/Redirect/Get) or as an API client would (the JSON twin), choosing answers
deterministically from a seed, and returning what it sent so a test can compare it with what
was stored.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from app.config import ROOT_DIR
from app.rubric.loader import Catalog
from tests.surveys import helpers

START_TIMEOUT_S = 90.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclasses.dataclass
class LiveServer:
    """``processlens serve`` on ``database_url``; call ``start()`` and, always, ``stop()``."""

    database_url: str
    data_dir: Path
    workers: int = 2
    secret_key: str = dataclasses.field(default_factory=lambda: secrets.token_urlsafe(48))
    port: int = dataclasses.field(default_factory=free_port)
    extra_env: Mapping[str, str] = dataclasses.field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    _log_offset: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.data_dir / "server.log"

    def environment(self) -> dict[str, str]:
        inherited = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith("PROCESSLENS_") and name not in ("DATABASE_URL", "REDIS_URL")
        }
        return inherited | {
            "PROCESSLENS_ENVIRONMENT": "test",
            # one secret for every worker and restart: resume links are keyed hashes of it
            "PROCESSLENS_SECRET_KEY": self.secret_key,
            "PROCESSLENS_DATA_DIR": str(self.data_dir),
            # INFO: wait_ready counts the workers' "ready" lines
            "PROCESSLENS_LOG_LEVEL": "INFO",
            "DATABASE_URL": self.database_url,
            # log lines reach the file at once (wait_ready reads them)
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }

    def start(self, *, wait: bool = True) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._log_offset = self.log.stat().st_size if self.log.exists() else 0
        command = [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1"]
        command += ["--port", str(self.port), "--workers", str(self.workers)]
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT_DIR,
                env=self.environment(),
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if wait:
            try:
                self.wait_ready()
            except BaseException:
                self.stop()  # never leave a half-started server behind
                raise

    def wait_ready(self, timeout: float = START_TIMEOUT_S, path: str = "/readyz") -> None:
        """Until every worker has logged that it is ready and ``path`` answers 200."""
        deadline = time.monotonic() + timeout
        in_a_row = 0
        with httpx.Client(base_url=self.url, timeout=5) as client:
            while in_a_row < 2 or self._ready_workers() < self.workers:
                if self.process is not None and self.process.poll() is not None:
                    raise RuntimeError(f"the server exited:\n{self.log_tail()}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the server was not ready in {timeout} s")
                try:
                    ok = client.get(path).status_code == 200
                except httpx.HTTPError:
                    ok = False
                in_a_row = in_a_row + 1 if ok else 0
                time.sleep(0.05 if ok else 0.2)

    def _ready_workers(self) -> int:
        with self.log.open("rb") as handle:
            handle.seek(self._log_offset)
            return handle.read().count(b"ready (")

    def kill(self) -> None:
        """SIGKILL the server and its workers at once: no shutdown, no flush, no goodbye."""
        if self.process is not None:
            _signal_group(self.process, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM (graceful), then SIGKILL after 20 s; safe to call when not running."""
        if self.process is None:
            return
        if self.process.poll() is None:
            _signal_group(self.process, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                _signal_group(self.process, signal.SIGKILL)
                self.process.wait(timeout=30)
        # workers outliving a killed parent share its process group
        _signal_group(self.process, signal.SIGKILL)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_text()[-chars:]


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


# ---------------------------------------------------------------- answers


def _pick(seed: str, qid: str, count: int) -> int:
    digest = hashlib.sha256(f"{seed}:{qid}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % count


def chosen_answer(catalog: Catalog, seed: str, qid: str) -> dict[str, Any]:
    """The answer respondent ``seed`` gives to ``qid``: {"value": ...} and sometimes a note."""
    question = catalog.questions[qid].question
    options = list(question.option_ids)
    value: Any
    if question.type in ("ordinal", "single"):
        value = options[_pick(seed, qid, len(options))]
        if question.allow_dont_know and _pick(seed, qid + "/dk", 7) == 0:
            value = "dont_know"
    elif question.type == "multi":
        first = _pick(seed, qid, len(options))
        second = _pick(seed, qid + "/2", len(options))
        value = [o for o in options if o in {options[first], options[second]}]
    elif question.type == "number":
        low = question.minimum if question.minimum is not None else 0
        value = int(low) + _pick(seed, qid, 5)
    else:
        value = f"Answer of {seed} to {qid}: ünïcödé & <b>markup</b>"
    answer: dict[str, Any] = {"value": value}
    if _pick(seed, qid + "/note", 4) == 0:
        answer["note"] = f"A note from {seed} on {qid} — with “quotes” & <angle brackets>"
    return answer


def _form_fields(catalog: Catalog, qid: str, answer: Mapping[str, Any]) -> list[tuple[str, str]]:
    question = catalog.questions[qid].question
    value = answer["value"]
    fields: list[tuple[str, str]] = []
    if isinstance(value, list):
        fields += [(f"a.{qid}", item) for item in value]
    elif question.type in ("number", "text") and value in ("dont_know", "not_applicable"):
        fields.append((f"s.{qid}", str(value)))
    else:
        fields.append((f"a.{qid}", str(value)))
    if "note" in answer:
        fields.append((f"n.{qid}", str(answer["note"])))
    return fields


# ---------------------------------------------------------------- one respondent


@dataclasses.dataclass
class Outcome:
    """What one respondent did: its resume token, the answers it sent, every status seen."""

    resume_token: str = ""
    sent: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    statuses: list[tuple[str, int]] = dataclasses.field(default_factory=list)
    submitted: bool = False


class Recorder:
    def __init__(self, client: httpx.Client, outcome: Outcome) -> None:
        self.client = client
        self.outcome = outcome

    def __call__(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        response = self.client.request(method, url, **kwargs)
        route = re.sub(r"/(i|r|api/survey(/invitations)?)/[A-Za-z0-9_-]{20,}", r"/\1/*", url)
        self.outcome.statuses.append((f"{method} {route}", response.status_code))
        return response


def fill_in_html(
    base_url: str, invitation_token: str, catalog: Catalog, seed: str, *, timeout: float = 60
) -> Outcome:
    """A respondent without JavaScript: welcome, start, every page with Next, review, submit."""
    outcome = Outcome()
    with httpx.Client(base_url=base_url, timeout=timeout) as client:
        call = Recorder(client, outcome)
        welcome = call("GET", f"/i/{invitation_token}")
        welcome.raise_for_status()
        started = call(
            "POST", f"/i/{invitation_token}", data={"csrf_token": helpers.csrf_of(welcome.text)}
        )
        assert started.status_code == 303, started.text
        outcome.resume_token = started.headers["location"].rsplit("/", 1)[-1]
        base = f"/r/{outcome.resume_token}"
        location = f"{base}/questions?page=1"
        for _ in range(200):  # bounded: a full assessment has about 15 pages
            if not location.startswith(f"{base}/questions"):
                break
            page = call("GET", location)
            assert page.status_code == 200, page.text
            fields = helpers.form_values(page.text)
            names = {name for name, _ in fields}
            answers: list[tuple[str, str]] = []
            for qid in helpers.page_questions(page.text):
                answer = chosen_answer(catalog, seed, qid)
                outcome.sent[qid] = answer
                answers += _form_fields(catalog, qid, answer)
            replaced = {name for name, _ in answers}
            kept = [(n, v) for n, v in fields if n not in replaced and n in names]
            saved = call(
                "POST",
                location,
                content=urlencode([*kept, *answers, ("action", "next")]),
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
            assert saved.status_code == 303, (saved.status_code, saved.text[:2000])
            location = saved.headers["location"]
        assert location == f"{base}/review", location
        review = call("GET", location)
        assert review.status_code == 200, review.text
        submit_form = helpers.form_values(review.text, form="//form[contains(@action, '/submit')]")
        submitted = call(
            "POST",
            f"{base}/submit",
            content=urlencode(submit_form),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert submitted.status_code == 303, submitted.text
        outcome.submitted = submitted.headers["location"] == f"{base}/done"
    return outcome


def fill_in_api(
    base_url: str, invitation_token: str, catalog: Catalog, seed: str, *, timeout: float = 60
) -> Outcome:
    """A respondent through the JSON API: start, save page by page from the returned
    versions, then submit with the submission key (twice: the replay must be harmless)."""
    outcome = Outcome()
    with httpx.Client(base_url=base_url, timeout=timeout) as client:
        call = Recorder(client, outcome)
        invitation = call("GET", f"/api/survey/invitations/{invitation_token}")
        invitation.raise_for_status()
        started = call(
            "POST",
            f"/api/survey/invitations/{invitation_token}/start",
            json={},
            headers={"x-csrf-token": invitation.json()["csrf_token"]},
        )
        assert started.status_code == 201, started.text
        outcome.resume_token = started.json()["resume_token"]
        api = f"/api/survey/{outcome.resume_token}"
        survey = call("GET", api)
        survey.raise_for_status()
        data = survey.json()
        headers = {"x-csrf-token": data["csrf_token"]}
        version = data["version"]
        hidden: set[str] = {q["id"] for p in data["pages"] for q in p["questions"] if q["hidden"]}
        for page in data["pages"]:
            shown = [q["id"] for q in page["questions"] if q["id"] not in hidden]
            if not shown:
                continue
            answers = {qid: chosen_answer(catalog, seed, qid) for qid in shown}
            outcome.sent.update(answers)
            saved = call(
                "PUT",
                f"{api}/answers",
                json={"version": version, "answers": answers},
                headers=headers,
            )
            assert saved.status_code == 200, saved.text
            version = saved.json()["version"]
            hidden = set(saved.json()["hidden"])
        body = {"submission_key": data["submission_key"], "version": version}
        first = call("POST", f"{api}/submit", json=body, headers=headers)
        assert first.status_code == 200, first.text
        replay = call("POST", f"{api}/submit", json=body, headers=headers)
        assert replay.status_code == 200, replay.text
        assert replay.json()["first_time"] is False
        outcome.submitted = first.json()["first_time"] is True
    return outcome


FILLERS: dict[str, Callable[..., Outcome]] = {"html": fill_in_html, "api": fill_in_api}


def slow_requested(config: Any) -> bool:
    """Slow tests run when selected by marker (``-m slow``) or PROCESSLENS_SLOW_TESTS=1."""
    markers = str(config.getoption("markexpr", "") or "")
    return "slow" in markers.replace("not slow", "") or os.environ.get(
        "PROCESSLENS_SLOW_TESTS", ""
    ).strip() in ("1", "true")


# ---------------------------------------------------------------- saving until stopped


def start_respondents(
    settings: Any, count: int, *, kind: str = "full", invitation: list[str] | None = None
) -> list[str]:
    """An open team survey with ``count`` started respondents; their resume tokens (and, in
    ``invitation`` if given, a link for more, allowing 500 uses)."""
    from app import db
    from app.surveys import invitations

    roles = ("data_scientist", "ml_engineer", "software_engineer", "product_manager")
    engine = db.create_db_engine(settings)
    try:
        with db.session_factory(engine)() as session:
            assessment_round = helpers.team_round(session, kind=kind)
            tokens = [
                invitations.start_respondent(
                    session=session,
                    settings=settings,
                    assessment_round=assessment_round,
                    role=roles[index % len(roles)],
                ).resume_token
                for index in range(count)
            ]
            if invitation is not None:
                invitation.append(
                    helpers.invite(session, settings, assessment_round, "other", use_limit=500)
                )
            session.commit()
    finally:
        engine.dispose()
    return tokens


@dataclasses.dataclass
class SaveState:
    """A respondent's saves as the client saw them: the last acknowledged one, and the one
    in flight when the connection broke (its outcome unknown to the client)."""

    token: str
    csrf: str = ""
    qids: list[str] = dataclasses.field(default_factory=list)
    version: int = 1
    acknowledged: dict[str, Any] = dataclasses.field(default_factory=dict)
    in_flight: dict[str, Any] | None = None
    saves: int = 0
    # every acknowledged state by version (a backup may hold any of them)
    history: dict[int, dict[str, Any]] = dataclasses.field(default_factory=dict)


class Saver:
    """Saves changing answers through the JSON API for its respondents, one request at a time,
    until ``stop`` is set or the connection breaks; every acknowledged save is recorded."""

    def __init__(self, base_url: str, states: list[SaveState], catalog: Catalog) -> None:
        self.base_url = base_url
        self.states = states
        self.catalog = catalog
        self.failure: str | None = None
        self.server_errors: list[int] = []

    def prepare(self, client: httpx.Client) -> None:
        for state in self.states:
            data = client.get(f"/api/survey/{state.token}").json()
            state.csrf = data["csrf_token"]
            state.version = data["version"]
            state.acknowledged = {qid: a["value"] for qid, a in data["answers"].items()}
            state.history[state.version] = state.acknowledged
            state.qids = [q["id"] for q in data["pages"][0]["questions"]]

    def run(self, stop: Any) -> None:
        with httpx.Client(base_url=self.base_url, timeout=30) as client:
            turn = 0
            while not stop.is_set():
                state = self.states[turn % len(self.states)]
                turn += 1
                answers = {
                    qid: self._value(qid, state.saves + 1 + index)
                    for index, qid in enumerate(state.qids)
                }
                state.in_flight = state.acknowledged | answers
                try:
                    response = client.put(
                        f"/api/survey/{state.token}/answers",
                        json={"version": state.version, "answers": answers},
                        headers={"x-csrf-token": state.csrf},
                    )
                except httpx.HTTPError as error:
                    self.failure = type(error).__name__
                    return  # in_flight stays: the client cannot know whether it was saved
                if response.status_code >= 500:
                    self.server_errors.append(response.status_code)
                if response.status_code != 200:
                    state.in_flight = None
                    time.sleep(0.05)
                    continue
                state.version = response.json()["version"]
                state.acknowledged = state.in_flight
                state.history[state.version] = state.acknowledged
                state.in_flight = None
                state.saves += 1

    def _value(self, qid: str, turn: int) -> Any:
        question = self.catalog.questions[qid].question
        if question.type in ("ordinal", "single"):
            return question.option_ids[turn % len(question.option_ids)]
        if question.type == "multi":
            return [question.option_ids[turn % len(question.option_ids)]]
        if question.type == "number":
            return int(question.minimum or 0) + turn % 3
        return f"text {turn}"
