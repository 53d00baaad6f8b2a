"""The swap test through the database and every view (issue 17), trusting no declaration of
support sets: hypothesis builds a team's two rounds of the same kind (random roles, answers, a
threshold k of 2 or 3, whether respondents see results, the viewer — the lead, who answered
through the round's "answer" route or not, an org leader who did or did not, or a respondent of
the current round —, the current round closed or not, and an erasure after close or not). The
previous round is closed and its answers vary too; it is published, or hidden: closed with
fewer than k responses, withheld (k responses, one of them the lead's own through the "answer"
route, so fewer than k besides it) or withdrawn after an erasure.

What the viewer obtains is collected through the routes. A lead or org leader: for each round
the API's result JSON, the results page's typed context data, the roadmap and debt-register
CSV exports and the report's text (the report shares its context with the page), so the
current round's comparison with the previous one (its deltas) is in it; an org leader also the
organisation views (the dashboard's API data, the organisation's CSV exports and the
organisation report's typed context). A respondent: their own results page (typed context and
text) and the survey API their link reaches. For every response r other than the viewer's, at
least k-1 others of the same round (none the viewer's own) must exist whose answers can be
exchanged with r's — by building the whole case again with the answers exchanged — without
changing anything the viewer obtained (ids and moments normalised).

The hypothesis test over the rule's functions (tests/results/test_swap.py) covers many more
rounds; this one checks, on both databases, that the views add nothing those functions hide.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import io
import json
import re
import secrets
from datetime import timedelta
from typing import Any, Literal

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlmodel import Session, select

from app.accounts import api_tokens, privacy
from app.config import Settings
from app.db import utcnow
from app.models import AssessmentRound, Respondent, Response, ResponseStatus, User, UserRole
from app.reports import org
from app.results import visibility
from app.rubric.answers import RoundSettings
from app.surveys.service import resume_token_hash
from app.workspace import rounds
from tests import factories
from tests.accounts import helpers as account_helpers
from tests.workspace import helpers

Viewer = Literal["lead", "org_leader", "respondent"]
# the previous round: published, or hidden (closed with fewer than k responses, withheld by
# the lead's own answer, withdrawn after an erasure)
Previous = Literal["published", "few", "withheld", "withdrawn"]
ORGANISATION_EXPORTS = ("scores", "answers", "roadmap", "debt-register")

Level = helpers.Level
VOLATILE = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ][\d:.+Z-]*|/teams/\d+(?:/rounds/\d+)?|\bround-\d+|\bRound \d+"
    r"|\b[0-9a-f]{32,64}\b"  # error references, tokens
)
# the per-response moments and ids of a stored result differ between any two builds
VOLATILE_KEYS = frozenset(
    {"computed_at", "rubric_versions", "id", "round_id", "team_id", "organisation_id"}
)
ROLES = (
    "data_scientist",
    "ml_engineer",
    "software_engineer",
    "product_manager",
    "team_lead",
    "other",
)
LEVELS: tuple[Level, ...] = ("low", "mid", "high")
PLAN = RoundSettings(
    stage="productionising",
    kind="quick",
    mode="team_survey",
    instruments=("trajectory", "collaboration", "handoff", "debt"),
)

Answers = tuple[tuple[str, str], ...]  # (question id, answer as JSON), sorted: hashable


def _stable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in VOLATILE_KEYS}
    if isinstance(value, list | tuple):
        return [_stable(v) for v in value]
    if isinstance(value, str):
        return VOLATILE.sub("*", value)
    return value


@functools.cache
def _answers(role: str, handoff: Level, other: Level) -> Answers:
    chosen = helpers.answers_for(PLAN, role, handoff=handoff, other=other)
    return tuple(sorted((qid, json.dumps(value)) for qid, value in chosen.items()))


@dataclasses.dataclass(frozen=True)
class Case:
    """A team's previous (closed) round and its current round, and who looks at both."""

    previous_roles: tuple[str, ...]
    current_roles: tuple[str, ...]
    k: int
    viewer: Viewer
    # the viewer's own: a lead's or org leader's through the "answer" route (both rounds), a
    # respondent's through their invitation (the current round)
    viewer_answers: Answers | None
    closed: bool  # the current round; the previous one is always closed
    erased: int | None  # a current response whose author asks for erasure after close
    sees: bool = False  # respondents see results (both rounds)
    previous: Previous = "published"


Rounds = tuple[tuple[Answers, ...], tuple[Answers, ...]]  # (previous, current) responses


def _invitation_id(session: Session, settings: Settings, assessment_round: AssessmentRound) -> int:
    """A round link, so that responses count as invited respondents' (not workspace users')."""
    issued = rounds.issue_links(
        session=session,
        settings=settings,
        assessment_round=assessment_round,
        roles=["data_scientist"],
        created_by_id=None,
    )
    invitation_id = issued["data_scientist"].invitation.id
    assert invitation_id is not None
    return invitation_id


def _answer_as(
    session: Session,
    settings: Settings,
    assessment_round: AssessmentRound,
    user: User,
    answers: Answers,
) -> None:
    """``user``'s own answers through the round's "answer" route (their personal link)."""
    path = rounds.lead_response_path(
        session=session, settings=settings, assessment_round=assessment_round, user_id=user.id
    )
    token = path.rsplit("/", 1)[-1]
    found = session.exec(
        select(Response).where(
            Response.respondent_id
            == select(Respondent.id)
            .where(Respondent.resume_token_hash == resume_token_hash(settings, token))
            .scalar_subquery()
        )
    ).one()
    found.answers = {qid: {"value": json.loads(value)} for qid, value in answers}
    found.status = ResponseStatus.submitted
    found.submitted_at = utcnow()
    session.add(found)
    session.flush()


def _fill(
    session: Session,
    settings: Settings,
    assessment_round: AssessmentRound,
    case: Case,
    roles: tuple[str, ...],
    answers: tuple[Answers, ...],
    viewer: User,
    *,
    lead: User | None = None,
) -> list[Response]:
    """The round's responses; ``lead``: the lead answers through the "answer" route too."""
    assessment_round.respondents_see_results = case.sees
    session.add(assessment_round)
    invitation_id = _invitation_id(session, settings, assessment_round)
    if case.viewer_answers is not None and case.viewer != "respondent":
        _answer_as(session, settings, assessment_round, viewer, case.viewer_answers)
    if lead is not None and not (lead.id == viewer.id and case.viewer_answers is not None):
        _answer_as(session, settings, assessment_round, lead, _answers("team_lead", "low", "mid"))
    made = []
    for role, chosen in zip(roles, answers, strict=True):
        response = factories.submitted_response(
            session, assessment_round, role, {qid: json.loads(value) for qid, value in chosen}
        )
        respondent = session.get(Respondent, response.respondent_id)
        assert respondent is not None
        respondent.invitation_id = invitation_id
        session.add(respondent)
        made.append(response)
    session.flush()
    return made


def _views(client: TestClient, url: str, headers: Any, bearer: Any) -> dict[str, Any]:
    """Everything a signed-in viewer obtains of one round through the pages, API and exports."""
    api = client.get(f"/api{url}/results", headers=bearer)
    page = client.get(f"{url}/results", headers=headers)
    report = client.get(f"{url}/report.html", headers=headers)
    exports = {  # not followed when redirected: where to is what the viewer learns
        name: client.get(f"{url}/{name}", headers=headers, follow_redirects=False)
        for name in ("roadmap.csv", "debt-register.csv")
    }
    assert api.status_code == page.status_code == 200, (api.text, page.status_code)
    return {
        "api": api.json(),
        "page": page.context["page"].data,  # type: ignore[attr-defined]
        "report": (
            report.status_code,
            " ".join(helpers.document(report.text).text_content().split()),
        ),
        "exports": {
            name: (got.status_code, got.headers.get("location"), got.text)
            for name, got in exports.items()
        },
    }


def _respondent_views(client: TestClient, token: str) -> dict[str, Any]:
    """Everything the respondent viewer obtains through their link: their results page and
    the survey API."""
    page = client.get(f"/r/{token}/results", follow_redirects=False)
    api = client.get(f"/api/survey/{token}")
    assert page.status_code == api.status_code == 200, (page.status_code, api.text)
    return {
        "page": dataclasses.asdict(page.context["page"]),  # type: ignore[attr-defined]
        "text": " ".join(helpers.document(page.text).text_content().split()),
        "api": api.json(),
    }


def _organisation_views(
    client: TestClient,
    session: Session,
    settings: Settings,
    organisation_id: int,
    viewer: User,
    headers: Any,
    bearer: Any,
) -> dict[str, Any]:
    """Everything an org leader obtains of the organisation: the dashboard's API data, the
    CSV exports and the organisation report's typed context (the PDF renders it)."""
    base = f"/organisations/{organisation_id}"
    dashboard = client.get(f"/api{base}/dashboard", headers=bearer)
    exports = {
        name: client.get(f"{base}/exports/{name}.csv", headers=headers, follow_redirects=False)
        for name in ORGANISATION_EXPORTS
    }
    assert viewer.id is not None
    report = org.aggregate(
        session=session,
        organisation_id=organisation_id,
        catalog=helpers.catalog(),
        cell_minimum=settings.org_cell_min,
        viewer=visibility.SignedIn(user_id=viewer.id, settings=settings),
    )
    return {
        "dashboard": (dashboard.status_code, dashboard.json()),
        # rows as mappings, so that their ids are left out as the JSON's are
        "exports": {
            name: (got.status_code, list(csv.DictReader(io.StringIO(got.text))))
            for name, got in exports.items()
        },
        "report": dataclasses.asdict(report),
    }


def _respondent_viewer(
    session: Session, settings: Settings, assessment_round: AssessmentRound, case: Case
) -> str:
    """The respondent viewer's own response, through an invitation; its resume link (hex,
    which the comparison normalises, as every build makes a new one)."""
    token = secrets.token_hex(32)
    assert case.viewer_answers is not None
    response = factories.submitted_response(
        session,
        assessment_round,
        "data_scientist",
        {qid: json.loads(value) for qid, value in case.viewer_answers},
    )
    respondent = session.get(Respondent, response.respondent_id)
    assert respondent is not None
    respondent.invitation_id = _invitation_id(session, settings, assessment_round)
    respondent.resume_token_hash = resume_token_hash(settings, token)
    session.add(respondent)
    session.flush()
    return token


def _obtained(
    client: TestClient, session: Session, settings: Settings, case: Case, answers: Rounds
) -> str:
    """Everything the case's viewer obtains of both rounds, built afresh, as one text."""
    lead = helpers.lead(session, settings)
    viewer, headers = lead.user, lead.headers
    if case.viewer == "org_leader":
        viewer = account_helpers.user(session, UserRole.org_leader, name="Olga Leader")
        account_helpers.assign(session, viewer, lead.organisation)
        headers = account_helpers.sign_in(session, settings, viewer).headers()
    previous = helpers.team_round(session, lead.team, results_min=case.k, title="Round 1")
    previous.created_at = utcnow() - timedelta(days=120)
    session.add(previous)
    earlier = _fill(
        session,
        settings,
        previous,
        case,
        case.previous_roles,
        answers[0],
        viewer,
        lead=lead.user if case.previous == "withheld" else None,
    )
    rounds.close_round(session=session, assessment_round=previous)
    if case.previous == "withdrawn":
        respondent = session.get(Respondent, earlier[0].respondent_id)
        assert respondent is not None
        privacy.erase_respondent(session=session, respondent=respondent)
    current = helpers.team_round(session, lead.team, results_min=case.k, title="Round 2")
    made = _fill(session, settings, current, case, case.current_roles, answers[1], viewer)
    token = ""
    if case.viewer == "respondent":
        token = _respondent_viewer(session, settings, current, case)
    if case.closed:
        rounds.close_round(session=session, assessment_round=current)
        if case.erased is not None:
            respondent = session.get(Respondent, made[case.erased].respondent_id)
            assert respondent is not None
            privacy.erase_respondent(session=session, respondent=respondent)
    created = api_tokens.create(session=session, settings=settings, user=viewer, name="swap")
    session.commit()
    bearer = {"authorization": f"Bearer {created.token}"}
    seen: dict[str, Any]
    if case.viewer == "respondent":
        seen = {"respondent": _respondent_views(client, token)}
    else:
        seen = {
            name: _views(client, f"{lead.team_url}/rounds/{found.id}", headers, bearer)
            for name, found in (("previous", previous), ("current", current))
        }
    if case.viewer == "org_leader":
        assert lead.organisation.id is not None
        seen["organisation"] = _organisation_views(
            client, session, settings, lead.organisation.id, viewer, headers, bearer
        )
    return json.dumps(_stable(seen), sort_keys=True, default=str)


def _exchanged(answers: Rounds, which: int, a: int, b: int) -> Rounds:
    """``answers`` with responses a and b of one round exchanging their answers to the
    questions both were asked (handoff and debt questions are not asked of every role)."""
    first, second = dict(answers[which][a]), dict(answers[which][b])
    common = first.keys() & second.keys()
    changed = list(answers[which])
    changed[a] = tuple(sorted({**first, **{q: second[q] for q in common}}.items()))
    changed[b] = tuple(sorted({**second, **{q: first[q] for q in common}}.items()))
    both = list(answers)
    both[which] = tuple(changed)
    return both[0], both[1]


@st.composite
def _responses(draw: st.DrawFn, low: int, high: int) -> tuple[tuple[str, ...], tuple[Answers, ...]]:
    n = draw(st.integers(min_value=low, max_value=high))
    # roles from a few per round, so that role groups of three (whose figures show) arise
    pool = draw(st.lists(st.sampled_from(ROLES), min_size=2, max_size=3, unique=True))
    roles = tuple(draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n)))
    answers = tuple(
        _answers(role, draw(st.sampled_from(LEVELS)), draw(st.sampled_from(LEVELS)))
        for role in roles
    )
    return roles, answers


@st.composite
def cases(draw: st.DrawFn) -> tuple[Case, Rounds]:
    k = draw(st.sampled_from((2, 3)))
    kind: Previous = draw(st.sampled_from(("published", "few", "withheld", "withdrawn")))
    # fewer than k: closed with nothing published; withheld: k - 1 and the lead's own answer
    low, high = {"few": (1, k - 1), "withheld": (k - 1, k - 1)}.get(kind, (3, 4))
    previous_roles, previous = draw(_responses(low, high))
    current_roles, current = draw(_responses(3, 6))
    viewer: Viewer = draw(st.sampled_from(("lead", "org_leader", "respondent")))
    answered = viewer == "respondent" or draw(st.booleans())
    closed = draw(st.integers(min_value=0, max_value=3)) != 0  # mostly: results show then
    erased = draw(st.one_of(st.none(), st.integers(0, len(current_roles) - 1)))
    case = Case(
        previous_roles=previous_roles,
        current_roles=current_roles,
        k=k,
        viewer=viewer,
        viewer_answers=(
            _answers("data_scientist" if viewer == "respondent" else "team_lead", "mid", "high")
            if answered
            else None
        ),
        closed=closed,
        erased=erased if closed and draw(st.booleans()) else None,
        sees=viewer == "respondent" or draw(st.booleans()),
        previous=kind,
    )
    return case, (previous, current)


def _fixed(
    current: tuple[tuple[str, Level], ...],
    k: int,
    viewer: Viewer,
    *,
    answered: bool = False,
    previous: Previous = "published",
) -> tuple[Case, Rounds]:
    """A case chosen by hand: the previous round of three (fewer than k when ``previous`` is
    "few" or "withheld"), the current one ``current``."""
    earlier: tuple[tuple[str, Level], ...] = (
        ("data_scientist", "low"),
        ("ml_engineer", "high"),
        ("product_manager", "mid"),
    )
    if previous in ("few", "withheld"):
        earlier = earlier[: k - 1]
    own_role = "data_scientist" if viewer == "respondent" else "team_lead"
    case = Case(
        previous_roles=tuple(role for role, _ in earlier),
        current_roles=tuple(role for role, _ in current),
        k=k,
        viewer=viewer,
        viewer_answers=(
            _answers(own_role, "high", "low") if answered or viewer == "respondent" else None
        ),
        closed=True,
        erased=None,
        sees=viewer == "respondent",
        previous=previous,
    )
    answers = tuple(
        tuple(_answers(role, level, level) for role, level in responses)
        for responses in (earlier, current)
    )
    return case, (answers[0], answers[1])


# three per role group, and the product-and-lead pair: role-group figures show, the pair's
# are withheld (the rest of two would be singled out); the answers differ within each group
GROUPS_AND_A_PAIR: tuple[tuple[str, Level], ...] = (
    ("data_scientist", "low"),
    ("data_scientist", "high"),
    ("data_scientist", "mid"),
    ("ml_engineer", "high"),
    ("software_engineer", "low"),
    ("ml_engineer", "mid"),
    ("product_manager", "low"),
    ("product_manager", "high"),
)
THREE_GROUPS_OF_THREE = (*GROUPS_AND_A_PAIR, ("team_lead", "mid"))


# every group's figures show: a response exchanged with one of another group is told apart
@example(_fixed(THREE_GROUPS_OF_THREE, 3, "lead"))
# a respondent who sees results, every group's figures showing; the previous round withdrawn
@example(_fixed(THREE_GROUPS_OF_THREE, 3, "respondent", previous="withdrawn"))
# the previous round hidden from the lead by their own answer, compared with nothing
@example(_fixed(GROUPS_AND_A_PAIR, 3, "lead", answered=True, previous="withheld"))
# the organisation views, and a previous round closed with fewer than k
@example(_fixed(GROUPS_AND_A_PAIR, 2, "org_leader", previous="few"))
# the viewer's own answer makes the product-and-lead group three, which it must not count
@example(_fixed(GROUPS_AND_A_PAIR, 3, "org_leader", answered=True))
@hypothesis_settings(
    max_examples=8,  # with the explicit examples above: bounded time on both databases
    deadline=None,
    derandomize=True,
    # each example builds its rounds afresh (new organisation, team and users) inside the
    # test's one rolled-back transaction, so the function-scoped fixtures are safe to share
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(cases())
def test_no_view_tells_a_response_from_k_minus_one_others(
    client: TestClient, session: Session, settings: Settings, drawn: tuple[Case, Rounds]
) -> None:
    case, answers = drawn
    seen = _obtained(client, session, settings, case, answers)
    cache: dict[Rounds, str] = {answers: seen}

    def alike(which: int, r: int, s: int) -> bool:
        changed = _exchanged(answers, which, r, s)
        if changed not in cache:  # exchanging equal answers builds the same case
            cache[changed] = _obtained(client, session, settings, case, changed)
        return cache[changed] == seen

    for which in (0, 1):
        count = len(answers[which])
        # a round of fewer than k others (closed with too few, withheld) has fewer than k-1
        # to swap with: then r must be told apart from none of them
        needed = min(case.k - 1, count - 1)
        for r in range(count):
            found = 0
            for s in range(count):
                if found < needed and s != r and alike(which, r, s):
                    found += 1
            assert found >= needed, (case, which, r)
