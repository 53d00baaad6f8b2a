"""Bad input of every kind gets a clear 4xx and changes nothing (PRODUCT.md section 11).

Each case sends one bad request to the respondent's pages or the survey API, on SQLite and
PostgreSQL, and compares every table of the database before and after: oversized bodies (413,
declared or streamed), deeply nested JSON, invalid UTF-8, wrong content types, duplicate JSON
keys, unknown question ids, values that are not options of their question, answers to a
question the round's questionnaire version does not have, replayed and premature submissions,
steps out of order and stale or forged forms. "Clear" means a JSON ``detail`` or an HTML page
with a heading, and never a traceback.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from typing import Any

import lxml.html
import pytest
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlmodel import Session, SQLModel

from app import catalog_store
from app.config import Settings
from app.rubric.answers import MAX_NOTE_CHARS
from app.rubric.loader import load_catalog_from_texts
from tests.surveys import helpers

TOO_BIG = 1024 * 1024 + 1  # one byte over the default PROCESSLENS_MAX_BODY_BYTES


@dataclasses.dataclass
class World:
    """A respondent part-way through a quick check: one page saved (version 2)."""

    client: TestClient
    session: Session
    settings: Settings
    resume: str
    csrf: str
    version: int
    qids: list[str]  # the first page's questions
    submission_key: str

    @property
    def api(self) -> str:
        return f"/api/survey/{self.resume}"

    @property
    def page(self) -> str:
        return f"/r/{self.resume}/questions?page=1"

    def put_raw(self, body: bytes, content_type: str = "application/json") -> Any:
        return self.client.put(
            f"{self.api}/answers",
            content=body,
            headers={"content-type": content_type, "x-csrf-token": self.csrf},
        )

    def put(self, answers: Any, version: int | None = None) -> Any:
        body = {"version": self.version if version is None else version, "answers": answers}
        return self.put_raw(json.dumps(body).encode())

    def post_form(self, fields: list[tuple[str, str]], url: str | None = None) -> Any:
        return helpers.post_form(self.client, url or self.page, fields, follow_redirects=False)

    def page_fields(self, answers: dict[str, Any], **extra: str) -> list[tuple[str, str]]:
        html = self.client.get(self.page).text
        return helpers.with_answers(helpers.form_values(html), answers, **extra)


def start(client: TestClient, session: Session, settings: Settings, **round_fields: Any) -> World:
    assessment_round = helpers.team_round(session, **({"kind": "quick"} | round_fields))
    token = helpers.invite(session, settings, assessment_round, "data_scientist")
    resume = helpers.start(client, token)
    survey = client.get(f"/api/survey/{resume}").json()
    qids = [q["id"] for q in survey["pages"][0]["questions"]]
    saved = client.put(
        f"/api/survey/{resume}/answers",
        json={"version": survey["version"], "answers": dict.fromkeys(qids, "dont_know")},
        headers={"x-csrf-token": survey["csrf_token"]},
    )
    assert saved.status_code == 200, saved.text
    return World(
        client=client,
        session=session,
        settings=settings,
        resume=resume,
        csrf=survey["csrf_token"],
        version=saved.json()["version"],
        qids=qids,
        submission_key=survey["submission_key"],
    )


@pytest.fixture
def survey_client(app: FastAPI) -> Iterator[TestClient]:
    """A client without the start-up hook: the tests register the rubric they use."""
    client = TestClient(app)
    yield client
    client.close()


@pytest.fixture
def world(session: Session, settings: Settings, survey_client: TestClient) -> World:
    return start(survey_client, session, settings)


def snapshot(session: Session) -> dict[str, list[str]]:
    """Every row of every table, as text (ordered, so two snapshots compare)."""
    connection = session.connection()
    return {
        table.name: sorted(repr(tuple(row)) for row in connection.execute(select(table)))
        for table in SQLModel.metadata.sorted_tables
    }


def assert_clear_refusal(response: Any, status: int) -> None:
    assert response.status_code == status, (response.status_code, response.text[:1000])
    text = response.text
    assert "Traceback" not in text
    if response.headers.get("content-type", "").startswith("application/json"):
        body = response.json()
        detail = body.get("detail")
        assert detail, body
        if isinstance(detail, str):
            assert len(detail) > 15
    elif response.headers.get("content-type", "").startswith("text/html"):
        heading = lxml.html.fromstring(text).xpath("string(//h1)").strip()
        assert heading, text[:1000]
    else:
        assert len(text) > 15, text


# ---------------------------------------------------------------- the cases


def oversized_form(world: World) -> Any:
    return world.post_form([("csrf_token", world.csrf), ("n.x", "x" * TOO_BIG)])


def oversized_json(world: World) -> Any:
    note = "x" * TOO_BIG
    return world.put({world.qids[0]: {"value": "dont_know", "note": note}})


def oversized_streamed(world: World) -> Any:
    def chunks() -> Iterator[bytes]:
        for _ in range(TOO_BIG // 65536 + 2):
            yield b"x" * 65536

    return world.client.put(
        f"{world.api}/answers",
        content=chunks(),
        headers={"content-type": "application/json", "x-csrf-token": world.csrf},
    )


def deeply_nested_json(world: World) -> Any:
    depth = 100_000
    value = "[" * depth + "]" * depth
    body = f'{{"version": {world.version}, "answers": {{"{world.qids[0]}": {value}}}}}'
    return world.put_raw(body.encode())


def invalid_utf8_json(world: World) -> Any:
    body = f'{{"version": {world.version}, "answers": {{"{world.qids[0]}": "'.encode()
    return world.put_raw(body + b'\xff\xfe"}}')


def invalid_utf8_form(world: World) -> Any:
    fields = world.page_fields({})
    body = "&".join(f"{name}={value}" for name, value in fields if name in ("csrf_token",))
    raw = body.encode() + f"&version={world.version}&a.{world.qids[0]}=".encode() + b"\xff\xfe"
    return world.client.post(
        world.page,
        content=raw,
        headers={"content-type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )


def json_sent_as_text(world: World) -> Any:
    body = {"version": world.version, "answers": {world.qids[0]: "dont_know"}}
    return world.put_raw(json.dumps(body).encode(), "text/plain")


def json_sent_to_a_form(world: World) -> Any:
    body = {"version": world.version, f"a.{world.qids[0]}": "dont_know", "action": "save"}
    return world.client.post(
        world.page,
        content=json.dumps(body).encode(),
        headers={"content-type": "application/json", "x-csrf-token": world.csrf},
        follow_redirects=False,
    )


def multipart_file_to_the_api(world: World) -> Any:
    return world.client.put(
        f"{world.api}/answers",
        files={"answers": ("answers.json", b'{"a": 1}', "application/json")},
        headers={"x-csrf-token": world.csrf},
    )


def duplicate_question_keys(world: World) -> Any:
    qid = world.qids[1]
    first, second = (
        '"dont_know"',
        json.dumps(helpers.catalog().questions[qid].question.option_ids[0]),
    )
    body = f'{{"version": {world.version}, "answers": {{"{qid}": {first}, "{qid}": {second}}}}}'
    return world.put_raw(body.encode())


def duplicate_version_keys(world: World) -> Any:
    body = f'{{"version": 1, "version": {world.version}, "answers": {{"{world.qids[1]}": null}}}}'
    return world.put_raw(body.encode())


def unknown_question_api(world: World) -> Any:
    return world.put({"trajectory.no_such_question": "dont_know"})


def unknown_question_form(world: World) -> Any:
    return world.post_form(world.page_fields({"trajectory.no_such_question": "dont_know"}))


def not_an_option(world: World) -> Any:
    return world.put({world.qids[1]: "option_that_does_not_exist"})


def not_an_option_form(world: World) -> Any:
    return world.post_form(world.page_fields({world.qids[1]: "999"}, action="save"))


def wrong_type(world: World) -> Any:
    return world.put({world.qids[1]: True})


def note_too_long(world: World) -> Any:
    long_note = "x" * (MAX_NOTE_CHARS * 2 + 1)
    return world.put({world.qids[1]: {"value": "dont_know", "note": long_note}})


def unknown_field(world: World) -> Any:
    return world.put({world.qids[1]: {"value": "dont_know", "weight": 100}})


def too_many_answers(world: World) -> Any:
    return world.put({f"trajectory.q{index}": "dont_know" for index in range(201)})


def stale_version(world: World) -> Any:
    option = helpers.catalog().questions[world.qids[0]].question.option_ids[0]
    return world.put({world.qids[0]: option}, version=world.version - 1)


def submit_from_an_outdated_review(world: World) -> Any:
    return world.client.post(
        f"{world.api}/submit",
        json={"submission_key": world.submission_key, "version": world.version - 1},
        headers={"x-csrf-token": world.csrf},
    )


def forged_csrf(world: World) -> Any:
    return world.client.put(
        f"{world.api}/answers",
        json={"version": world.version, "answers": {world.qids[1]: "dont_know"}},
        headers={"x-csrf-token": "0" * 64},
    )


def submit_too_early(world: World) -> Any:
    return world.client.post(
        f"{world.api}/submit",
        json={"submission_key": world.submission_key, "version": world.version},
        headers={"x-csrf-token": world.csrf},
    )


def submit_with_a_wrong_key(world: World) -> Any:
    return world.client.post(
        f"{world.api}/submit",
        json={"submission_key": "not-the-key", "version": world.version},
        headers={"x-csrf-token": world.csrf},
    )


def page_out_of_range(world: World) -> Any:
    return world.post_form(
        world.page_fields({}, action="save"), url=f"/r/{world.resume}/questions?page=999"
    )


def resolve_with_a_damaged_form(world: World) -> Any:
    qid = world.qids[0]
    fields = [("csrf_token", world.csrf), ("version", str(world.version))]
    fields += [(f"yours.{qid}", "{not json"), (f"keep.{qid}", "yours")]
    return world.post_form(fields, url=f"/r/{world.resume}/resolve?page=1")


def a_page_field_for_another_page(world: World) -> Any:
    survey = world.client.get(world.api).json()
    other = survey["pages"][1]["questions"][0]["id"]
    return world.post_form(world.page_fields({other: "dont_know"}, action="save"))


CASES: dict[str, tuple[Callable[[World], Any], int]] = {
    "oversized form": (oversized_form, 413),
    "oversized JSON": (oversized_json, 413),
    "oversized streamed body": (oversized_streamed, 413),
    "deeply nested JSON": (deeply_nested_json, 400),
    "invalid UTF-8 in JSON": (invalid_utf8_json, 400),
    "invalid UTF-8 in a form": (invalid_utf8_form, 400),
    "JSON sent as text/plain": (json_sent_as_text, 422),
    "JSON sent to a form page": (json_sent_to_a_form, 400),
    "a file sent to the API": (multipart_file_to_the_api, 422),
    "duplicate question ids": (duplicate_question_keys, 400),
    "duplicate version keys": (duplicate_version_keys, 400),
    "unknown question id (API)": (unknown_question_api, 400),
    "unknown question id (form)": (unknown_question_form, 400),
    "not an option (API)": (not_an_option, 400),
    "not an option (form)": (not_an_option_form, 400),
    "wrong value type": (wrong_type, 422),
    "note too long": (note_too_long, 422),
    "unknown answer field": (unknown_field, 422),
    "too many answers at once": (too_many_answers, 422),
    "stale version": (stale_version, 409),
    "forged CSRF token": (forged_csrf, 403),
    "submit with answers missing": (submit_too_early, 400),
    "submit with a wrong key": (submit_with_a_wrong_key, 400),
    "a page that does not exist": (page_out_of_range, 404),
    "submit from an outdated review": (submit_from_an_outdated_review, 409),
    "a damaged conflict form": (resolve_with_a_damaged_form, 400),
    "an answer for another page": (a_page_field_for_another_page, 400),
}


def test_bad_input_gets_a_clear_4xx_and_changes_nothing(world: World) -> None:
    # one respondent and one app for every case (an app per case would take minutes):
    # each case must leave the database exactly as it found it, so they cannot interfere
    problems: dict[str, str] = {}
    for case, (send, status) in CASES.items():
        before = snapshot(world.session)
        try:
            assert_clear_refusal(send(world), status)
            assert snapshot(world.session) == before, "the database changed"
        except AssertionError as error:
            problems[case] = str(error).splitlines()[0][:300]
    assert not problems, problems


def older_trajectory_version(session: Session) -> tuple[dict[str, str], str]:
    """Register a trajectory questionnaire version without one of today's questions (one no
    rule refers to); returns the round's rubric versions and the missing question's id."""
    catalog = helpers.catalog()
    texts = dict(catalog.texts)
    data = yaml.safe_load(texts["trajectory.yaml"])
    for section in data["sections"]:
        for index, question in enumerate(section["questions"]):
            qid = question["id"]
            if len(section["questions"]) > 1 and sum(t.count(qid) for t in texts.values()) == 1:
                del section["questions"][index]
                texts["trajectory.yaml"] = yaml.safe_dump(data, sort_keys=False)
                older = load_catalog_from_texts(texts)
                versions = catalog_store.register_catalog(session=session, catalog=older)
                return versions, f"trajectory.{qid}"
    raise AssertionError("no question to remove")


def test_an_answer_for_another_questionnaire_version_changes_nothing(
    session: Session, settings: Settings, survey_client: TestClient
) -> None:
    versions, missing = older_trajectory_version(session)
    assert missing in helpers.catalog().questions  # today's rubric has it
    world = start(survey_client, session, settings, kind="full", rubric_versions=versions)
    before = snapshot(session)
    response = world.put({missing: "dont_know"})
    assert_clear_refusal(response, 400)
    assert "version of the questionnaire" in response.json()["errors"][missing]
    assert snapshot(session) == before


def test_replayed_and_late_steps_change_nothing(
    session: Session, settings: Settings, survey_client: TestClient
) -> None:
    world = start(survey_client, session, settings)
    survey = world.client.get(world.api).json()
    everything = {q["id"]: "dont_know" for p in survey["pages"] for q in p["questions"]}
    saved = world.put(everything)
    assert saved.status_code == 200, saved.text
    body = {"submission_key": world.submission_key, "version": saved.json()["version"]}
    headers = {"x-csrf-token": world.csrf}
    first = world.client.post(f"{world.api}/submit", json=body, headers=headers)
    assert first.status_code == 200
    assert first.json()["first_time"] is True
    before = snapshot(session)
    # the same submit again (a replay), through the API and the form: the same submission
    replay = world.client.post(f"{world.api}/submit", json=body, headers=headers)
    assert replay.status_code == 200
    assert replay.json()["first_time"] is False
    form = [("csrf_token", world.csrf), ("submission_key", world.submission_key)]
    replay_form = world.post_form(form, url=f"/r/{world.resume}/submit")
    assert replay_form.status_code == 303
    assert snapshot(session) == before
    # steps after the end: saving, changing the role, another submit key
    late: list[tuple[Any, int]] = [
        (world.put({world.qids[0]: "not_applicable"}, version=body["version"] + 1), 409),
        (world.post_form([*form, ("version", str(body["version"])), ("action", "save")]), 409),
        (
            world.client.put(f"{world.api}/role", json={"role": "ml_engineer"}, headers=headers),
            409,
        ),
        (
            world.client.post(
                f"{world.api}/submit", json={"submission_key": "another"}, headers=headers
            ),
            409,
        ),
    ]
    for response, status in late:
        assert_clear_refusal(response, status)
    assert snapshot(session) == before
