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

import asyncio
import dataclasses
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import lxml.html
import pytest
from fastapi import FastAPI, params
from fastapi.exceptions import RequestValidationError
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlmodel import Session, SQLModel, col
from starlette.requests import Request

from app import catalog_store
from app.accounts import api_tokens
from app.accounts.tokens import hash_token
from app.config import Settings
from app.models import ApiToken, Membership, UserRole
from app.rubric.answers import MAX_NOTE_CHARS
from app.rubric.loader import load_catalog
from tests import test_isolation as isolation
from tests.accounts import helpers as account_helpers
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
    return table_rows(session.connection())


def table_rows(connection: Connection) -> dict[str, list[str]]:
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


# Text PostgreSQL cannot store (a NUL byte; a lone surrogate, which is not UTF-8 at all) and
# numbers JSON does not have (NaN, Infinity, and 1e999, which Python reads as infinity).


def _answers_body(world: World, answers: str, version: str | None = None) -> bytes:
    return f'{{"version": {version or world.version}, "answers": {answers}}}'.encode()


def nan_as_the_version(world: World) -> Any:
    return world.put_raw(_answers_body(world, f'{{"{world.qids[0]}": "dont_know"}}', "NaN"))


def nan_as_an_answer(world: World) -> Any:
    return world.put_raw(_answers_body(world, f'{{"{world.qids[0]}": NaN}}'))


def infinity_as_a_note(world: World) -> Any:
    answer = '{"value": "dont_know", "note": -Infinity}'
    return world.put_raw(_answers_body(world, f'{{"{world.qids[0]}": {answer}}}'))


def a_number_too_big_for_a_float(world: World) -> Any:
    return world.put_raw(_answers_body(world, f'{{"{world.qids[0]}": 1e999}}'))


def nul_in_a_note_api(world: World) -> Any:
    return world.put({world.qids[0]: {"value": "dont_know", "note": "before\x00after"}})


def nul_in_a_question_id_api(world: World) -> Any:
    return world.put({world.qids[0] + "\x00": "dont_know"})


def lone_surrogate_in_a_note_api(world: World) -> Any:
    answer = '{"value": "dont_know", "note": "half \\ud800 a character"}'
    return world.put_raw(_answers_body(world, f'{{"{world.qids[0]}": {answer}}}'))


def lone_surrogate_in_a_question_id_api(world: World) -> Any:
    return world.put_raw(_answers_body(world, '{"trajectory.\\udfff": "dont_know"}'))


def lone_surrogate_in_a_role(world: World) -> Any:
    return world.client.put(
        f"{world.api}/role",
        content=b'{"role": "\\ud83d"}',
        headers={"content-type": "application/json", "x-csrf-token": world.csrf},
    )


def nul_in_a_submission_key(world: World) -> Any:
    return world.client.post(
        f"{world.api}/submit",
        json={"submission_key": world.submission_key + "\x00", "version": world.version},
        headers={"x-csrf-token": world.csrf},
    )


def nul_in_a_note_form(world: World) -> Any:
    fields = world.page_fields({world.qids[0]: "dont_know"}, action="save")
    fields.append((f"n.{world.qids[0]}", "before\x00after"))
    return world.post_form(fields)


def nul_in_a_field_name_form(world: World) -> Any:
    fields = world.page_fields({world.qids[0]: "dont_know"}, action="save")
    fields.append((f"a.{world.qids[0]}\x00", "dont_know"))
    return world.post_form(fields)


def nul_in_a_multipart_field(world: World) -> Any:
    fields = world.page_fields({world.qids[0]: "dont_know"}, action="save")
    fields.append((f"n.{world.qids[0]}", "before\x00after"))
    return world.client.post(
        world.page, files=[(name, (None, value)) for name, value in fields], follow_redirects=False
    )


def lone_surrogate_in_a_multipart_field(world: World) -> Any:
    # the form parser decodes parts in the charset the request declares; UTF-7 can spell a
    # lone surrogate ("+2AA-" is U+D800)
    boundary = "b0undary"
    fields = world.page_fields({world.qids[0]: "dont_know"}, action="save")
    fields.append((f"n.{world.qids[0]}", "+2AA-"))
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields
    ]
    body = ("".join(parts) + f"--{boundary}--\r\n").encode()
    return world.client.post(
        world.page,
        content=body,
        headers={"content-type": f"multipart/form-data; boundary={boundary}; charset=utf-7"},
        follow_redirects=False,
    )


def nul_in_the_address(world: World) -> Any:
    return world.client.get(f"/r/{world.resume}%00/questions?page=1")


def nul_in_the_query_string(world: World) -> Any:
    fields = world.page_fields({world.qids[0]: "dont_know"}, action="save")
    return world.post_form(fields, url=f"/r/{world.resume}/questions?page=1%00")


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
    "NaN as the version": (nan_as_the_version, 422),
    "NaN as an answer": (nan_as_an_answer, 422),
    "-Infinity as a note": (infinity_as_a_note, 422),
    "1e999 as an answer": (a_number_too_big_for_a_float, 422),
    "NUL in a note (API)": (nul_in_a_note_api, 422),
    "NUL in a question id (API)": (nul_in_a_question_id_api, 422),
    "lone surrogate in a note (API)": (lone_surrogate_in_a_note_api, 422),
    "lone surrogate in a question id (API)": (lone_surrogate_in_a_question_id_api, 422),
    "lone surrogate in a role (API)": (lone_surrogate_in_a_role, 422),
    "NUL in a submission key (API)": (nul_in_a_submission_key, 422),
    "NUL in a note (form)": (nul_in_a_note_form, 422),
    "NUL in a field name (form)": (nul_in_a_field_name_form, 422),
    "NUL in a multipart field": (nul_in_a_multipart_field, 422),
    "lone surrogate in a multipart field": (lone_surrogate_in_a_multipart_field, 422),
    "NUL in the query string": (nul_in_the_query_string, 422),
    "NUL in the address": (nul_in_the_address, 422),
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
        except Exception as error:  # one case storing bad text can break the next one's page
            problems[case] = str(error).splitlines()[0][:300]
    assert not problems, "\n".join(f"{case}: {problem}" for case, problem in problems.items())


def older_questionnaire_version(session: Session) -> tuple[dict[str, str], str]:
    """Register the previous rubric (2026.1, kept as a test fixture) and name a question of
    today's rubric that it does not have; returns the round's rubric versions and that id."""
    older = load_catalog(Path(__file__).parent / "fixtures" / "rubric-2026.1")
    added = sorted(set(helpers.catalog().questions) - set(older.questions))
    assert added, "today's rubric adds no question to 2026.1"
    versions = catalog_store.register_catalog(session=session, catalog=older)
    return versions, added[0]


def test_an_answer_for_another_questionnaire_version_changes_nothing(
    session: Session, settings: Settings, survey_client: TestClient
) -> None:
    versions, missing = older_questionnaire_version(session)
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


# ---------------------------------------------------------------- every route of the app
#
# Text the database cannot store (NUL, a lone surrogate) and numbers JSON does not have (NaN)
# sent to every route that takes a form or a JSON body, and a NUL in the query string of every
# route, as someone allowed to use it (a signed-in session and its CSRF token, or the
# respondent's link), so that without the guard the payload would reach the route's code.
# Routes come from the app's route table (tests/test_isolation.py's walk), so a new route is
# swept without anyone adding it here.

BAD_TEXT = {"NUL": "before\x00after", "lone surrogate": "half \ud800 a character"}
# form fields every route is sent besides its declared ones: routes that read the whole form
# take fields by names that are not declared anywhere
EXTRA_FIELDS = ("name", "note", "title", "text", "value", "role")
ACTOR_ROLES = (UserRole.admin, UserRole.consultant, UserRole.org_leader, UserRole.team_lead)


def _route_world(session: Session, settings: Settings) -> isolation.World:
    tenant = account_helpers.tenant(session, settings, isolation.ALPHA)
    admin = account_helpers.user(session, UserRole.admin, email="sweep-admin@example.org")
    created = api_tokens.create(
        session=session, settings=settings, user=tenant.team_lead, name="sweep script"
    )
    membership = session.scalars(
        select(Membership).where(col(Membership.user_id) == tenant.team_lead.id)
    ).one()
    assert created.row.id is not None
    assert membership.id is not None
    job_id = isolation._finished_job(session, settings, tenant)
    import_job_id = isolation._finished_import_job(session, tenant, isolation.ALPHA)
    rescore_job_id = isolation._finished_rescore_job(session, tenant, isolation.ALPHA)
    session.commit()
    return isolation.World(
        settings,
        {isolation.ALPHA: tenant},
        admin,
        {isolation.ALPHA: created.row.id},
        {isolation.ALPHA: membership.id},
        {isolation.ALPHA: job_id},
        # the sweep acts as each role once; a second organisation adds nothing to it
        two_org_leader=tenant.org_leader,
        charlie="",
        import_job_ids={isolation.ALPHA: import_job_id},
        rescore_job_ids={isolation.ALPHA: rescore_job_id},
    )


def _actor_for(world: isolation.World, endpoint: isolation.Endpoint) -> isolation.Actor | None:
    """Someone the route lets in with the world's objects in its path; None: anonymous."""
    if endpoint.access == "public":
        return None
    tenant = world.tenants[isolation.ALPHA]
    people = {
        UserRole.admin: world.admin,
        UserRole.consultant: tenant.consultant,
        UserRole.org_leader: tenant.org_leader,
        UserRole.team_lead: tenant.team_lead,
    }
    for role in ACTOR_ROLES:
        actor = isolation.Actor(role.value, role, isolation.ALPHA, people[role])
        if isolation._expectation(endpoint, actor, isolation.ALPHA) == "allowed":
            return actor
    raise AssertionError(f"nobody may use {endpoint.method} {endpoint.path}")


def _body_fields(app: FastAPI, endpoint: isolation.Endpoint) -> tuple[list[str], list[str]]:
    """(form field names, JSON body field names) the route declares."""
    forms: list[str] = []
    json_fields: list[str] = []
    for context in iter_route_contexts(app.routes):
        if context.path != endpoint.path or endpoint.method not in (context.methods or ()):
            continue
        dependant = getattr(context, "dependant", None)
        for param in dependant.body_params if dependant is not None else ():
            annotation = param.field_info.annotation
            if isinstance(param.field_info, params.Form):
                forms.append(param.alias)
            elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
                json_fields.extend(annotation.model_fields)
    return forms, json_fields


def _payloads(forms: list[str], json_fields: list[str], csrf: str) -> dict[str, dict[str, Any]]:
    """httpx keyword arguments of each bad request for one route."""
    names = list(dict.fromkeys([*forms, *EXTRA_FIELDS]))
    keys = json_fields or ["value"]
    sent: dict[str, dict[str, Any]] = {}
    for label, text in BAD_TEXT.items():
        fields = [("csrf_token", csrf), *((name, text) for name in names)]
        if label == "NUL":  # a form cannot carry a surrogate: its parser replaces it
            sent[f"{label} in a form"] = {
                "content": urlencode(fields),
                "headers": {"content-type": "application/x-www-form-urlencoded"},
            }
            sent[f"{label} in a multipart form"] = {
                "files": [(name, (None, value)) for name, value in fields]
            }
        sent[f"{label} in JSON"] = {
            "content": json.dumps(dict.fromkeys(keys, text)).encode(),
            "headers": {"content-type": "application/json"},
        }
    sent["NaN in JSON"] = {
        "content": ("{" + ", ".join(f'"{key}": NaN' for key in keys) + "}").encode(),
        "headers": {"content-type": "application/json"},
    }
    return sent


def test_every_form_and_json_route_refuses_unstorable_input(
    app: FastAPI, session: Session, settings: Settings, db_connection: Connection
) -> None:
    world = _route_world(session, settings)
    signed_in = {
        role: account_helpers.sign_in(session, settings, person)
        for role, person in (
            (UserRole.admin, world.admin),
            (UserRole.consultant, world.tenants[isolation.ALPHA].consultant),
            (UserRole.org_leader, world.tenants[isolation.ALPHA].org_leader),
            (UserRole.team_lead, world.tenants[isolation.ALPHA].team_lead),
        )
    }
    session.commit()
    client = TestClient(app)
    anonymous_cookie, anonymous_csrf = account_helpers.anonymous_csrf(client, settings)
    failures: list[str] = []
    swept = 0
    for endpoint in isolation.endpoints(app):
        path = endpoint.path
        for name in endpoint.parameters:
            value = isolation.PATH_PARAMETERS[name].value(world, isolation.ALPHA)
            path = re.sub(r"{" + name + r"(:[^}]+)?}", value, path)
        actor = _actor_for(world, endpoint)
        if actor is not None and actor.role is not None:
            headers = signed_in[actor.role].headers()
        elif "token" in endpoint.parameters:  # a respondent's link: its CSRF token
            token = world.tenants[isolation.ALPHA].resume_token
            headers = {"x-csrf-token": hash_token(settings, token, purpose="csrf")}
        else:
            headers = {"cookie": anonymous_cookie, "x-csrf-token": anonymous_csrf}
        if endpoint.method in ("GET", "HEAD"):
            query = [(name, "x\x00") for name in ("page", "offset", "action", "notice")]
            requests: dict[str, dict[str, Any]] = {"NUL in the query string": {"params": query}}
        else:
            forms, json_fields = _body_fields(app, endpoint)
            requests = _payloads(forms, json_fields, headers["x-csrf-token"])
        # each route in a savepoint rolled back afterwards, so one route's change cannot
        # hide another's
        nested = db_connection.begin_nested()
        try:
            before = table_rows(db_connection)
            for label, arguments in requests.items():
                app.state.rate_limiter.storage.reset()
                client.cookies.clear()
                sent_headers = headers | {"accept": "text/html"} | arguments.pop("headers", {})
                response = client.request(
                    endpoint.method, path, headers=sent_headers, follow_redirects=False, **arguments
                )
                swept += 1
                try:
                    assert_clear_refusal(response, 422)
                except AssertionError as error:
                    failures.append(f"{label} to {endpoint.method} {endpoint.path}: {error}"[:300])
            if table_rows(db_connection) != before:
                failures.append(f"{endpoint.method} {endpoint.path}: the database changed")
        except Exception as error:  # e.g. PostgreSQL's transaction aborted by a NUL
            failures.append(f"{endpoint.method} {endpoint.path}: {error}"[:300])
        finally:
            nested.rollback()
    client.close()
    assert swept > 200
    assert not failures, f"{len(failures)} problems:\n" + "\n".join(failures)


def test_validation_errors_list_where_and_what_but_never_the_input(world: World) -> None:
    secret = "x" * 5000
    response = world.put_raw(
        json.dumps({"version": secret, "answers": {world.qids[0]: "dont_know"}}).encode()
    )
    assert_clear_refusal(response, 422)
    detail = response.json()["detail"]
    assert detail[0] == {
        "loc": ["body", "version"],
        "msg": "Input should be a valid integer",
        "type": "int_type",
    }
    assert all(set(item) == {"loc", "msg", "type"} for item in detail)
    assert secret not in response.text


def test_validation_errors_that_hold_unsendable_input_still_answer_422(app: FastAPI) -> None:
    # what pydantic reports for input the guard in front did not stop: a NaN, and half a
    # surrogate pair as a key and in the message; the handler must not fail on either
    problem = {
        "loc": ("body", "answers", "trajectory.\ud800", "note"),
        "msg": "Value error, \ud800 is not allowed",
        "type": "value_error",
        "input": float("nan"),
        "ctx": {"error": ValueError("\ud800")},
    }
    handler = app.exception_handlers[RequestValidationError]
    scope = {"type": "http", "method": "PUT", "path": "/api/survey/x", "headers": []}
    handled = handler(Request(scope), RequestValidationError([problem]))
    assert asyncio.iscoroutine(handled)  # the handler is async
    response = asyncio.run(handled)
    assert response.status_code == 422
    body = json.loads(bytes(response.body))
    assert body == {
        "detail": [
            {
                "loc": ["body", "answers", "trajectory.\\ud800", "note"],
                "msg": "Value error, \\ud800 is not allowed",
                "type": "value_error",
            }
        ]
    }


def test_the_refusal_names_the_field(world: World) -> None:
    qid = world.qids[0]
    api = world.put({qid: {"value": "dont_know", "note": "a\x00b"}})
    assert_clear_refusal(api, 422)
    assert f'field "answers.{qid}.note" contains a NUL character' in api.json()["detail"]
    nan = world.put_raw(_answers_body(world, f'{{"{qid}": NaN}}'))
    assert f'field "answers.{qid}" is NaN or Infinity' in nan.json()["detail"]
    page = world.post_form(world.page_fields({qid: "dont_know"}, **{f"n.{qid}": "a\x00b"}))
    assert_clear_refusal(page, 422)
    assert f"field &#34;n.{qid}&#34; contains a NUL character" in page.text


def test_file_uploads_are_bytes_and_are_left_alone(
    client: TestClient, session: Session, settings: Settings
) -> None:
    """A NUL byte in an uploaded file is not text: the form around it is used as usual."""
    member = account_helpers.user(session, UserRole.team_lead)
    signed_in = account_helpers.sign_in(session, settings, member)
    session.commit()
    response = client.post(
        "/account/tokens",
        files=[
            ("csrf_token", (None, signed_in.csrf_token)),
            ("name", (None, "uploader")),
            ("attachment", ("notes.bin", b"\x00\x01\x00binary", "application/octet-stream")),
        ],
        headers={"cookie": signed_in.cookie_header},
        follow_redirects=False,
    )
    assert response.status_code < 400, response.text[:500]
    assert [token.name for token in session.scalars(select(ApiToken))] == ["uploader"]
