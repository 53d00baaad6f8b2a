"""The anonymity rule for every viewer of a team survey's results (PRODUCT.md section 6).

The guarantee is stated against the strongest insider: someone who knows their own answers and
has saved everything they were ever shown must not single out another respondent's answers.
Every figure has a *support set* (the responses it is computed from): the team's figures rest
on every submitted response, figures that use role labels (perception gaps, disputed marks and
the level ranges resting on them) on each role group's responses as well. The rule:

* **Partition.** Split the responses by every support set the viewer can see; each part, less
  the viewer's own response, is empty or holds at least k (the round's threshold; role-group
  parts at least ``max(k, ROLE_GROUP_MIN)``). A role group failing it is withheld (the smallest
  first, until the rest passes); when the team part fails, nothing is shown.
* **Published once.** A team survey's result is published when the round closes (by the lead
  or by date) with at least k responses, and never changes afterwards; while it is open,
  viewers see progress only. An erasure after close withdraws it.

Reads of a round's result for display go through ``shown`` (or ``shown_row``), which take the
viewer. A viewer known by their own response (or by having none) gets the rule for them. A read
that does not know its viewer (``ANYONE``: a batch of reports, the previous round, lists and
dashboards) applies the team part for every viewer who could hold a response in the round at
once (the leads and org leaders who answered through the workspace, and every respondent when
respondents see results) and shows **no role-group figures**: the same person may see the
round on their own page too, and two different sets of role groups, one from each, could be
subtracted (the team less every group shown on either isolates whoever is left). Solo rounds
are outside the rule: the lead answers for the team, openly.

Organisation views (the dashboard, its exports, the organisation report) count teams, not
role groups, with the organisation's own rule (``app.rubric.anonymity``); for a signed-in
viewer they count each round without the viewer's own response (``counted``), so a team
resting on fewer than k others is left out for that viewer alone.

What the rule cannot know: a lead who answers through an invitation link instead of the
round's "answer" route is a respondent like any other, so their response counts for them
(docs/security.md says so; the answer route is how a lead answers).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from pydantic import BaseModel
from sqlalchemy import ColumnElement, any_, func
from sqlmodel import Session, col, select

from app.accounts.tokens import hash_token, lead_token
from app.config import Settings
from app.db import utcnow
from app.models import (
    AssessmentRound,
    AuditEvent,
    Respondent,
    Response,
    ResponseStatus,
    RoundMode,
    RoundResult,
    RoundStatus,
)
from app.results import model
from app.results.model import TeamResult, parse_stored
from app.rubric import categorical
from app.rubric.schema import ROLE_GROUPS

ROLE_GROUP_MIN = 3  # role-group figures always need at least this many responses
WITHDRAWN_ACTION = "round.result_withdrawn"

HIDDEN_NOTE = "hidden to protect anonymity"
DISPUTED_WARNING = "Disputed answer"  # the engine's warning naming a split between role groups
WITHDRAWN = "withdrawn after a request to erase answers"


def role_group(role: str) -> str | None:
    return next((group for group, roles in ROLE_GROUPS.items() if role in roles), None)


@dataclasses.dataclass(frozen=True)
class Member:
    """One submitted response, as the rule sees it: never its answers."""

    response_id: int
    group: str | None  # its role group; None for roles outside the groups ("other")
    may_view: bool  # its author may be a viewer (answered in the workspace, or sees results)


@dataclasses.dataclass(frozen=True)
class Viewer:
    """Who is looking: their own response in the round, if any (``known`` False: anyone)."""

    own_response_id: int | None = None
    known: bool = True


ANYONE = Viewer(known=False)
OUTSIDER = Viewer()  # a viewer with no response in the round


@dataclasses.dataclass(frozen=True)
class Shown:
    """What one viewer may see of a round's published figures."""

    team: bool
    groups: frozenset[str]  # role groups whose figures show
    withheld_groups: frozenset[str]  # role groups with responses whose figures do not


def _own_ids(members: Sequence[Member], viewer: Viewer) -> tuple[int | None, ...]:
    if viewer.known:
        return (viewer.own_response_id,)
    return (None, *(m.response_id for m in members if m.may_view))


def _part_holds(part: Sequence[Member], minimum: int, owns: Iterable[int | None]) -> bool:
    ids = {m.response_id for m in part}
    for own in owns:
        left = len(ids - {own}) if own is not None else len(ids)
        if 0 < left < minimum:
            return False
    return True


def decide(members: Sequence[Member], *, k: int, viewer: Viewer) -> Shown:
    """The partition rule applied to a round's submitted responses for ``viewer``."""
    owns = _own_ids(members, viewer)
    present = {m.group for m in members if m.group is not None}
    group_min = max(k, ROLE_GROUP_MIN)
    team_ok = all(len({m.response_id for m in members} - {own}) >= k for own in owns)
    if not team_ok:
        return Shown(team=False, groups=frozenset(), withheld_groups=frozenset(present))
    if not viewer.known:
        # team figures only: a viewer shown one set of role groups on their own page and
        # another set here could subtract the two (the team less every group shown on either
        # isolates whoever is left), so a read that does not know its viewer shows none
        return Shown(team=True, groups=frozenset(), withheld_groups=frozenset(present))
    by_group = {g: [m for m in members if m.group == g] for g in present}
    shown = {g for g in present if _part_holds(by_group[g], group_min, owns)}
    shown = {g for g in shown if len(by_group[g]) >= group_min}
    while shown:
        rest = [m for m in members if m.group not in shown]
        if _part_holds(rest, k, owns):
            break
        # the smallest group shown joins the rest, until the rest is empty or large enough
        shown.remove(min(shown, key=lambda g: (len(by_group[g]), g)))
    return Shown(team=True, groups=frozenset(shown), withheld_groups=frozenset(present - shown))


def members_of(session: Session, assessment_round: AssessmentRound) -> tuple[Member, ...]:
    rows = session.exec(
        select(Response.id, Respondent.role, Respondent.invitation_id)
        .join(Respondent, col(Respondent.id) == col(Response.respondent_id))
        .where(
            Response.round_id == assessment_round.id,
            Response.status == ResponseStatus.submitted,
        )
        .order_by(col(Response.id))
    ).all()
    sees = assessment_round.respondents_see_results
    return tuple(
        # a response without an invitation was answered in the workspace by a lead or leader
        Member(int(rid or 0), role_group(role), invitation is None or sees)
        for rid, role, invitation in rows
    )


_Ranged = TypeVar("_Ranged", bound=BaseModel)


def filtered(result: TeamResult, shown: Shown) -> TeamResult:
    """``result`` with the figures of withheld role groups taken out, and a note saying so."""
    if not shown.withheld_groups:
        return result
    gaps = tuple(
        gap
        for gap in result.perception_gaps
        if gap.lower_group in shown.groups and gap.higher_group in shown.groups
    )
    answers = {}
    for qid, spread in result.answers.items():
        # a disputed mark (and its range) rests on the role groups' answers: every answer then
        # reads as its consensus alone, disputed or not, so none differs from the others
        update: dict[str, object] = {}
        if "disputed" in type(spread).model_fields:
            update["disputed"] = False
        if "high" in type(spread).model_fields:
            update["high"] = spread.consensus
        answers[qid] = spread.model_copy(update=update) if update else spread
    update_result: dict[str, object] = {}
    # level ranges (and the certainty they take away) rest on answers that differ between
    # role groups, for an artifact even when the overall level is not disputed: every level
    # reads as its bottom, as certain as its own gates make it
    handoff = result.handoff
    if handoff is not None:
        update_result["handoff"] = _consensus_handoff(handoff)
    classifications = {
        key: item.model_copy(update={"disputed": False, "alternative": None})
        if getattr(item, "disputed", False)
        else item
        for key, item in result.classifications.items()
    }
    note = (
        "Some comparisons between role groups are "
        f"{HIDDEN_NOTE}: a role group needs at least {ROLE_GROUP_MIN} responses, and no "
        "smaller group may be worked out from the others."
    )
    return result.model_copy(
        update={
            **update_result,
            "perception_gaps": gaps,
            "answers": answers,
            "classifications": classifications,
            "warnings": (
                *(w for w in result.warnings if not w.startswith(DISPUTED_WARNING)),
                note,
            ),
        }
    )


def _consensus_part(part: model.Artifact) -> model.Artifact:
    """An artifact's level without the range a disputed answer gave it: its bottom, certain
    as its gates at the next level make it (the engine's rule, ``categorical``)."""
    applying = [gate for gate in part.gates if gate.status not in categorical.LEFT_OUT]
    certain = (
        part.not_expected
        or part.next_level is None
        or not any(gate.status == "unknown" for gate in applying)
        or any(gate.status == "missing" for gate in applying)
    )
    return part.model_copy(
        update={
            "range": None if part.range is None else (part.level, part.level),
            "certain": certain,
        }
    )


def _consensus_handoff(handoff: model.Handoff) -> model.Handoff:
    artifacts = {key: _consensus_part(artifact) for key, artifact in handoff.artifacts.items()}
    process = None if handoff.process is None else _consensus_part(handoff.process)
    parts = [*artifacts.values(), *([process] if process is not None else [])]
    return handoff.model_copy(
        update={
            "artifacts": artifacts,
            "process": process,
            "range": None if handoff.range is None else (handoff.level, handoff.level),
            "certain": any(p.level == handoff.level and p.certain for p in parts),
            "disputed": False,
            "label": f"level {handoff.level}" if handoff.disputed else handoff.label,
        }
    )


def _single_level(item: _Ranged) -> _Ranged:
    """``item`` with its level range (if it has one) narrowed to its bottom level."""
    if getattr(item, "range", None) is None:
        return item
    level = getattr(item, "level", None)
    return item.model_copy(update={"range": (level, level)})


# ---------------------------------------------------------------- published once


def role_progress_shown(submitted: int, k: int) -> bool:
    """Whether a role's progress counts show (open or closed): only from k submitted
    responses; a smaller role reads "fewer than k" so no count ties a result to a few people."""
    return submitted >= k


def closes_by_date(assessment_round: AssessmentRound, *, now: datetime | None = None) -> bool:
    """An open round whose closing date has passed (it closes on its next read)."""
    closes_at = assessment_round.closes_at
    if assessment_round.status == RoundStatus.closed or closes_at is None:
        return False
    if closes_at.tzinfo is None:  # SQLite hands back naive UTC
        closes_at = closes_at.replace(tzinfo=UTC)
    return closes_at <= (now or utcnow())


def withdrawn(session: Session, round_id: int) -> bool:
    """An erasure after close withdrew the round's published result."""
    return (
        session.exec(
            select(AuditEvent.id).where(
                AuditEvent.action == WITHDRAWN_ACTION,
                AuditEvent.target_type == "round",
                AuditEvent.target_id == str(round_id),
            )
        ).first()
        is not None
    )


def published(assessment_round: AssessmentRound, row: RoundResult | None) -> bool:
    """A result readers may see at all: a solo round's at once, a team survey's once closed."""
    if row is None:
        return False
    if assessment_round.mode == RoundMode.solo:
        return True
    return assessment_round.status == RoundStatus.closed and row.final


def shown(
    session: Session,
    assessment_round: AssessmentRound,
    row: RoundResult | None,
    viewer: Viewer = ANYONE,
) -> TeamResult | None:
    """The round's result as ``viewer`` may see it, or None: not published, or the team's
    figures would single someone out for this viewer."""
    found = _shown(session, assessment_round, row, viewer)
    return None if found is None else found[0]


def _shown(
    session: Session, assessment_round: AssessmentRound, row: RoundResult | None, viewer: Viewer
) -> tuple[TeamResult, bool] | None:
    """``shown``, and whether figures were taken out of the stored result."""
    if not published(assessment_round, row):
        return None
    assert row is not None
    result = parse_stored(row.computed)
    if not result.visible:
        return None
    if assessment_round.mode == RoundMode.solo:
        return result, False
    verdict = decide(
        members_of(session, assessment_round), k=assessment_round.results_min, viewer=viewer
    )
    if not verdict.team:
        return None
    return filtered(result, verdict), bool(verdict.withheld_groups)


def shown_row(
    session: Session,
    assessment_round: AssessmentRound,
    row: RoundResult | None,
    viewer: Viewer = ANYONE,
) -> RoundResult | None:
    """``shown`` as a stored row, for readers that take one: the row itself when the viewer
    sees all of it, else a detached copy (never added to the session) carrying the viewer's
    figures."""
    found = _shown(session, assessment_round, row, viewer)
    if found is None or row is None:
        return None
    result, changed = found
    if not changed:
        return row
    return RoundResult(
        id=row.id,
        round_id=row.round_id,
        label=row.label,
        computed=result.to_stored(),
        rubric_versions=row.rubric_versions,
        respondent_count=row.respondent_count,
        final=row.final,
        computed_at=row.computed_at,
    )


def viewer_of_user(
    session: Session, settings: Settings, assessment_round: AssessmentRound, user_id: int | None
) -> Viewer:
    """A signed-in viewer (lead, org leader, consultant, admin) and the response they gave
    through the round's "answer" route, if any: it is theirs, so it never counts for them."""
    if user_id is None or assessment_round.id is None:
        return ANYONE
    token = lead_token(settings, round_id=assessment_round.id, user_id=user_id)
    own = session.exec(
        select(Response.id)
        .join(Respondent, col(Respondent.id) == col(Response.respondent_id))
        .where(Respondent.resume_token_hash == hash_token(settings, token, purpose="resume"))
    ).first()
    return Viewer(own_response_id=own)


# ---------------------------------------------------------------- organisation views


@dataclasses.dataclass(frozen=True)
class SignedIn:
    """A signed-in viewer of an organisation view (org leader, consultant, admin): what
    finds the responses they gave through rounds' "answer" routes (the key derives them)."""

    user_id: int
    settings: Settings


@dataclasses.dataclass(frozen=True)
class OrgRound:
    """A team's round as an organisation view counts it."""

    round_id: int
    mode: str
    respondents: int
    threshold: int  # the round's own k


_HASHES_PER_QUERY = 500  # well under every database's limit on bound parameters
# the keyed hashes of lead links already derived: (secret, round, user) -> hash. An
# organisation view derives one per summarised round on every request (4,000 for 1,000 teams
# x 4 rounds, two HMACs each: ~15 ms); they never change for a key, so each is derived once
_LEAD_HASHES: dict[tuple[str, int, int], str] = {}
_LEAD_HASHES_MAX = 1 << 16  # ~16 MB at most; emptied when full


def _lead_hashes(settings: Settings, user_id: int, round_ids: Iterable[int]) -> list[str]:
    """The keyed hash of ``user_id``'s lead link of each round (``lead_token``, "resume")."""
    assert settings.secret_key is not None
    secret = settings.secret_key.get_secret_value()
    hashes = []
    for rid in set(round_ids):
        key = (secret, rid, user_id)
        found = _LEAD_HASHES.get(key)
        if found is None:
            if len(_LEAD_HASHES) >= _LEAD_HASHES_MAX:
                _LEAD_HASHES.clear()
            token = lead_token(settings, round_id=rid, user_id=user_id)
            found = _LEAD_HASHES[key] = hash_token(settings, token, purpose="resume")
        hashes.append(found)
    return sorted(hashes)


def _hash_batches(session: Session, hashes: list[str]) -> Iterator[ColumnElement[bool]]:
    """Conditions matching ``hashes``: on PostgreSQL one text parameter split into an array
    by the server (thousands of bound parameters, or a list adapted to an array, cost more to
    build and send there than the lookup itself), elsewhere a few hundred per IN list."""
    column = col(Respondent.resume_token_hash)
    if session.get_bind().dialect.name == "postgresql":  # hex hashes: no comma in any
        yield column == any_(func.string_to_array(",".join(hashes), ","))
        return
    for start in range(0, len(hashes), _HASHES_PER_QUERY):
        yield column.in_(hashes[start : start + _HASHES_PER_QUERY])


def own_rounds(
    session: Session, settings: Settings, user_id: int | None, round_ids: Iterable[int]
) -> frozenset[int]:
    """The rounds among ``round_ids`` holding a submitted response ``user_id`` gave through
    the round's "answer" route: no column names its author, so the keyed links are derived
    and matched in one query (a few hundred rounds per query on SQLite)."""
    if user_id is None:
        return frozenset()
    hashes = _lead_hashes(settings, user_id, round_ids)
    if not hashes:
        return frozenset()
    found: set[int] = set()
    for matching in _hash_batches(session, hashes):
        found.update(
            session.exec(
                select(Respondent.round_id)
                .join(Response, col(Response.respondent_id) == col(Respondent.id))
                .where(matching, Response.status == ResponseStatus.submitted)
            ).all()
        )
    return frozenset(found)


@dataclasses.dataclass(frozen=True)
class Counted:
    """What counts in an organisation view for one viewer (see ``counted``)."""

    own: frozenset[int]  # rounds holding the viewer's own response
    left_out: frozenset[int]  # of those, rounds with fewer than k others
    others: Mapping[int, int]  # per round, the responses that count for the viewer


NO_ONE_IN_PARTICULAR = Counted(frozenset(), frozenset(), {})


def counted(
    session: Session,
    viewer: SignedIn | None,
    rounds: Sequence[OrgRound],
    *,
    minimum: int,
    own: frozenset[int] | None = None,
) -> Counted:
    """The rule for one viewer of an organisation view: per round, the responses that count
    for them (their own never does), and the rounds left out for them outright, holding their
    own response and fewer than k others (k the larger of the round's threshold and the
    organisation ``minimum``). Most viewers answered nowhere: every count stays, none is left
    out. The caller applies the organisation's rule for every team to the counts returned
    (so a team left out here is hidden, and counted as hidden, like any small team)."""
    if viewer is None:
        own = frozenset()
    elif own is None:  # ``own``: the viewer's own rounds, when the caller found them already
        surveyed = [r.round_id for r in rounds if r.mode != RoundMode.solo]
        own = own_rounds(session, viewer.settings, viewer.user_id, surveyed)
    others = {r.round_id: r.respondents - (1 if r.round_id in own else 0) for r in rounds}
    left_out = frozenset(
        r.round_id
        for r in rounds
        if r.round_id in own and others[r.round_id] < max(r.threshold, minimum)
    )
    return Counted(own=own, left_out=left_out, others=others)


def waiting_message(
    session: Session, assessment_round: AssessmentRound, *, submitted: int, needed: int
) -> str:
    """Why a team survey's results do not show (to this viewer), in plain words."""
    assert assessment_round.id is not None
    reason = "so that no one's answers can be worked out from them"
    if assessment_round.status != RoundStatus.closed:
        return (
            f"The survey is open: {submitted} responses so far. Team results are published "
            f"once, when it closes, if at least {needed} people have answered, {reason}."
        )
    if withdrawn(session, assessment_round.id):
        return f"Team results were {WITHDRAWN}."
    if submitted < needed:
        return (
            f"The survey closed with fewer than {needed} responses, so no team results were "
            f"published, {reason}."
        )
    return (
        f"Team results are {HIDDEN_NOTE}: fewer than {needed} responses besides your own "
        "are behind them."
    )


def headline_shown(session: Session, assessment_round: AssessmentRound, *, submitted: int) -> bool:
    """Whether a list of rounds may show the round's headline (model, trajectory, scores):
    a solo round's once answered; a team survey's once published at close and only when the
    rule lets anyone who may look see its team figures."""
    if assessment_round.mode == RoundMode.solo:
        return submitted >= 1
    if assessment_round.status != RoundStatus.closed or submitted < assessment_round.results_min:
        return False
    members = members_of(session, assessment_round)
    return decide(members, k=assessment_round.results_min, viewer=ANYONE).team
