"""Typed contexts of the survey's pages (templates/survey/), built from service data.

Templates get these plain frozen dataclasses, never database objects; tests read them from
``response.context["page"]``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Collection, Mapping
from typing import Any, Final

from app.config import QUESTIONNAIRES_DIR, Settings
from app.models import RoundMode, Team
from app.results.model import Handoff, TeamResult
from app.rubric import repository_compare
from app.rubric.answers import MAX_NOTE_CHARS, MAX_TEXT_CHARS, MAX_URL_CHARS
from app.rubric.loader import Catalog
from app.rubric.output import answer_label
from app.rubric.repository_match import RepositorySignals
from app.rubric.rules import DONT_KNOW, NOT_APPLICABLE
from app.rubric.schema import ROLES
from app.surveys import estimate
from app.surveys.forms import (
    ANSWER,
    EVIDENCE,
    EVIDENCE_BACKED,
    NOTE,
    NOTE_SHAREABLE,
    SPECIAL,
    FieldValues,
    special_values,
)
from app.surveys.service import (
    AnswerConflict,
    Progress,
    Survey,
    SurveyPage,
    SurveyPlan,
    progress_of,
)

ROLE_LABELS: Final[Mapping[str, str]] = {
    "data_scientist": "Data scientist",
    "ml_engineer": "ML engineer",
    "software_engineer": "Software engineer",
    "product_manager": "Product manager",
    "team_lead": "Team lead",
    "other": "Another role",
}
STAGES: Final[Mapping[str, tuple[str, str]]] = {
    "exploration": (
        "Exploration",
        "finding out whether a useful model or product is possible at all",
    ),
    "prototype": (
        "Prototype",
        "building a first working version to try out with data or users",
    ),
    "productionising": (
        "Productionising",
        "turning a working prototype into something that runs reliably in production",
    ),
    "operating": (
        "Operating",
        "running in production, being maintained and improved",
    ),
}
SPECIAL_LABELS: Final[Mapping[str, str]] = {
    DONT_KNOW: "Don't know",
    NOT_APPLICABLE: "Not applicable",
}


def page_url(base_url: str, index: int) -> str:
    """The address of a page of questions (the page number is a query parameter)."""
    return f"{base_url}/questions?page={index}"


def dom_id(qid: str) -> str:
    """An HTML id for a question: ``q-instrument--question``."""
    return "q-" + qid.replace(".", "--")


# ---------------------------------------------------------------- shared parts


@dataclasses.dataclass(frozen=True)
class Choice:
    value: str
    label: str
    checked: bool
    input_id: str


@dataclasses.dataclass(frozen=True)
class Citation:
    source: str
    section: str


@dataclasses.dataclass(frozen=True)
class QuestionView:
    qid: str
    dom_id: str
    number: int
    text: str
    help: str
    type: str  # ordinal, single, multi, number, text
    required: bool
    hidden: bool
    options: tuple[Choice, ...]
    specials: tuple[Choice, ...]
    text_value: str
    unit: str | None
    minimum: float | None
    maximum: float | None
    note: str
    note_shareable: bool
    evidence: str
    evidence_backed: bool
    evidence_invited: bool
    extras_open: bool
    citations: tuple[Citation, ...]
    error: str | None
    names: Mapping[str, str]  # field names: answer, special, note, ...
    # what the repository shows, while its suggested option is pre-filled and not yet saved
    suggested_by_repository: str | None = None

    @property
    def described_by(self) -> str:
        ids = [f"{self.dom_id}-help"]
        if self.error:
            ids.insert(0, f"{self.dom_id}-error")
        return " ".join(ids)


@dataclasses.dataclass(frozen=True)
class ProgressView:
    section: int
    sections: int
    answered: int
    total: int

    @property
    def percent(self) -> int:
        return round(100 * self.answered / self.total) if self.total else 100


@dataclasses.dataclass(frozen=True)
class ErrorLink:
    href: str
    message: str


@dataclasses.dataclass(frozen=True)
class Limits:
    note: int = MAX_NOTE_CHARS
    url: int = MAX_URL_CHARS
    text: int = MAX_TEXT_CHARS


LIMITS: Final = Limits()


def citations(catalog: Catalog, sources: Any) -> tuple[Citation, ...]:
    names = {doc.id: doc.short for doc in catalog.bibliography.sources}
    return tuple(Citation(source=names.get(s.doc, s.doc), section=s.section) for s in sources)


def visible_pages(plan: SurveyPlan, hidden: frozenset[str]) -> tuple[SurveyPage, ...]:
    """Pages with at least one question shown (a display condition can hide a whole page)."""
    return tuple(
        page for page in plan.pages if any(item.qid not in hidden for item in page.questions)
    )


def neighbours(
    plan: SurveyPlan, hidden: frozenset[str], page: SurveyPage
) -> tuple[SurveyPage | None, SurveyPage | None]:
    shown = visible_pages(plan, hidden)
    before = [p for p in shown if p.index < page.index]
    after = [p for p in shown if p.index > page.index]
    return (before[-1] if before else None, after[0] if after else None)


def question_view(
    survey: Survey,
    item: Any,
    *,
    number: int,
    values: FieldValues,
    hidden: bool,
    error: str | None,
    suggested_by_repository: str | None = None,
) -> QuestionView:
    question = item.question
    ident = dom_id(item.qid)
    if question.type in ("ordinal", "single", "multi"):
        options = tuple(
            Choice(
                value=o.id,
                label=o.label,
                checked=o.id in values.choices,
                input_id=f"{ident}-{o.id}",
            )
            for o in question.options
        )
    else:
        options = ()
    specials = tuple(
        Choice(
            value=value,
            label=SPECIAL_LABELS[value],
            checked=value in values.choices,
            input_id=f"{ident}-{value}",
        )
        for value in special_values(question)
    )
    return QuestionView(
        qid=item.qid,
        dom_id=ident,
        number=number,
        text=question.text,
        help=question.help,
        type=question.type,
        required=item.required,
        hidden=hidden,
        options=options,
        specials=specials,
        text_value=values.text,
        unit=question.unit,
        minimum=question.minimum,
        maximum=question.maximum,
        note=values.note,
        note_shareable=values.note_shareable,
        evidence=values.evidence,
        evidence_backed=values.evidence_backed,
        evidence_invited=question.evidence,
        extras_open=bool(values.note or values.evidence),
        citations=citations(survey.catalog, question.sources),
        error=error,
        names={
            "answer": ANSWER + item.qid,
            "special": SPECIAL + item.qid,
            "note": NOTE + item.qid,
            "note_shareable": NOTE_SHAREABLE + item.qid,
            "evidence": EVIDENCE + item.qid,
            "evidence_backed": EVIDENCE_BACKED + item.qid,
        },
        suggested_by_repository=suggested_by_repository,
    )


def repository_suggestions(survey: Survey) -> Mapping[str, repository_compare.Suggestion]:
    """A solo round's suggestions from the signals file attached to it. A team survey never
    gets any: each respondent's answers are their own, and anonymous."""
    attached = survey.assessment_round.repository_signals
    if survey.assessment_round.mode != RoundMode.solo or attached is None:
        return {}
    signals = repository_compare.signals_for(survey.catalog, QUESTIONNAIRES_DIR)
    if signals is None:
        return {}
    return repository_compare.suggestions(
        catalog=survey.catalog,
        signals=signals,
        readings=RepositorySignals.model_validate(attached),
    )


def _field_values(
    item: Any,
    stored: Mapping[str, Any],
    typed: Mapping[str, FieldValues] | None,
    suggestion: repository_compare.Suggestion | None,
) -> tuple[FieldValues, str | None]:
    """What a question shows: as typed, as stored, or (never saved) the repository's
    suggestion, pre-filled and marked until the lead saves the page."""
    if typed and item.qid in typed:
        return typed[item.qid], None
    if item.qid in stored or suggestion is None:
        return FieldValues.from_stored(stored.get(item.qid)), None
    return FieldValues(choices=(suggestion.option,)), "; ".join(suggestion.shows)


def display_answer(catalog: Catalog, qid: str, data: Mapping[str, Any] | None) -> str:
    if data is None:
        return "No answer"
    return answer_label(catalog, qid, data.get("value"))


# ---------------------------------------------------------------- welcome


@dataclasses.dataclass(frozen=True)
class RoleOption:
    value: str
    label: str
    selected: bool


@dataclasses.dataclass(frozen=True)
class WelcomePage:
    """Context of templates/survey/welcome.html: the invitation's welcome page (before the
    respondent starts) or the respondent's own start page (with their resume link)."""

    title: str
    eyebrow: str  # team, round and kind, as far as the page may name them
    solo: bool
    quick: bool
    stage_label: str
    stage_description: str
    role: str
    role_label: str
    roles: tuple[RoleOption, ...]
    minutes: int
    questions: int
    optional_questions: int
    sections: int
    instruments: tuple[str, ...]
    results_min: int
    role_group_min: int
    small_group: bool
    closes_on: str | None
    start_action: str | None  # invitation: where "Start" posts
    role_action: str | None  # respondent: where a role correction posts
    resume_url: str | None
    continue_url: str | None
    continue_label: str
    notice: str | None


def welcome_page(
    *,
    settings: Settings,
    catalog: Catalog,
    plan: SurveyPlan,
    team: Team | None,
    assessment_round: Any,
    title: str = "How does your team build ML-enabled software?",
    start_action: str | None = None,
    role_action: str | None = None,
    resume_url: str | None = None,
    continue_url: str | None = None,
    continue_label: str = "Begin",
    notice: str | None = None,
) -> WelcomePage:
    stage_label, stage_description = STAGES.get(
        assessment_round.stage, (assessment_round.stage, "")
    )
    closes_at = assessment_round.closes_at
    return WelcomePage(
        title=title,
        # the team and round are named on the invitation's welcome page only
        eyebrow=" · ".join(
            part
            for part in (
                team.name if team is not None else "",
                assessment_round.title if team is not None else "",
                "Quick check" if assessment_round.kind == "quick" else "Full assessment",
            )
            if part
        ),
        solo=assessment_round.mode == "solo",
        quick=assessment_round.kind == "quick",
        stage_label=stage_label,
        stage_description=stage_description,
        role=plan.role,
        role_label=ROLE_LABELS.get(plan.role, plan.role),
        roles=tuple(
            RoleOption(value=role, label=ROLE_LABELS[role], selected=role == plan.role)
            for role in ROLES
        ),
        minutes=estimate.minutes_of(plan.asked),
        questions=len(plan.asked),
        optional_questions=sum(1 for item in plan.asked if not item.required),
        sections=len(plan.pages),
        instruments=tuple(
            catalog.instruments[i].title for i in plan.settings.instrument_ids(catalog)
        ),
        results_min=assessment_round.results_min,
        role_group_min=settings.role_group_min,
        small_group=assessment_round.results_min < 3,
        closes_on=f"{closes_at:%-d %B %Y}" if closes_at is not None else None,
        start_action=start_action,
        role_action=role_action,
        resume_url=resume_url,
        continue_url=continue_url,
        continue_label=continue_label,
        notice=notice,
    )


# ---------------------------------------------------------------- a page of questions


@dataclasses.dataclass(frozen=True)
class PartView:
    """One section's questions on a page, under the section's heading (when the page joins
    several sections)."""

    title: str
    intro: str | None
    questions: tuple[QuestionView, ...]


def page_heading(page: SurveyPage) -> str:
    """A page's heading: its section's title, or the instrument's when it joins sections."""
    return page.section.title if len(page.parts) == 1 else page.instrument.title


@dataclasses.dataclass(frozen=True)
class QuestionPage:
    """Context of templates/survey/page.html: one page of questions (one or more sections of
    one instrument, grouped by app.surveys.paging)."""

    title: str
    instrument_title: str
    section_title: str  # the page's heading
    intro: str | None  # the section's introduction, on a page of one section
    parts: tuple[PartView, ...]
    questions: tuple[QuestionView, ...]
    progress: ProgressView
    errors: tuple[ErrorLink, ...]
    error_message: str | None
    form_action: str
    version: int
    base: str  # JSON of the page's answers as rendered (for the conflict page)
    is_first: bool
    is_last: bool
    next_label: str
    back_label: str | None  # None on the first page: there is nothing to go back to
    welcome_url: str
    resume_url: str
    notice: str | None
    limits: Limits = LIMITS


def _question_views(
    survey: Survey,
    page: SurveyPage,
    hidden: Collection[str],
    values: Mapping[str, FieldValues] | None,
    errors: Mapping[str, str],
) -> tuple[QuestionView, ...]:
    """The page's questions as shown: stored or typed values, or the repository's suggestion."""
    stored = survey.response.answers
    numbers = {item.qid: n for n, item in enumerate(survey.plan.asked, 1)}
    # a question hidden by a display condition is never pre-filled: its inputs are still sent
    suggested = repository_suggestions(survey)
    views = []
    for item in page.questions:
        shown_values, by_repository = _field_values(
            item, stored, values, None if item.qid in hidden else suggested.get(item.qid)
        )
        views.append(
            question_view(
                survey,
                item,
                number=numbers[item.qid],
                values=shown_values,
                hidden=item.qid in hidden,
                error=errors.get(item.qid),
                suggested_by_repository=by_repository,
            )
        )
    return tuple(views)


def question_page(
    *,
    survey: Survey,
    page: SurveyPage,
    base_url: str,
    resume_url: str,
    values: Mapping[str, FieldValues] | None = None,
    errors: Mapping[str, str] | None = None,
    error_message: str | None = None,
    version: int | None = None,
    base: Mapping[str, Any] | None = None,
    overlay: Mapping[str, Any] | None = None,
    notice: str | None = None,
) -> QuestionPage:
    """The page as stored, or (after a refused save) as the respondent typed it.

    ``overlay`` holds answers typed on this page that passed their checks, so display
    conditions follow what the respondent sees, not only what is stored.
    """
    plan = survey.plan
    stored = survey.response.answers
    current = dict(stored) | dict(overlay or {})
    progress = progress_of(survey.catalog, plan, current)
    shown_pages = visible_pages(plan, progress.hidden)
    position = next((n for n, p in enumerate(shown_pages, 1) if p.index == page.index), 1)
    views = _question_views(survey, page, progress.hidden, values, errors or {})
    by_qid = {view.qid: view for view in views}
    joined = len(page.parts) > 1
    heading = page_heading(page)
    before, after = neighbours(plan, progress.hidden, page)
    page_base = (
        base if base is not None else {item.qid: stored.get(item.qid) for item in page.questions}
    )
    return QuestionPage(
        title=heading if joined else f"{heading} ({page.instrument.title})",
        instrument_title=page.instrument.title,
        section_title=heading,
        intro=None if joined else page.section.intro,
        parts=tuple(
            PartView(
                title=part.section.title if joined else "",
                intro=part.section.intro if joined else None,
                questions=tuple(by_qid[item.qid] for item in part.questions),
            )
            for part in page.parts
        ),
        questions=views,
        progress=ProgressView(
            section=position,
            sections=len(shown_pages),
            answered=progress.answered,
            total=progress.total,
        ),
        errors=tuple(
            ErrorLink(href=f"#{view.dom_id}", message=f"Question {view.number}: {view.error}")
            for view in views
            if view.error
        ),
        error_message=error_message,
        form_action=page_url(base_url, page.index),
        version=version if version is not None else survey.version,
        base=json.dumps(page_base, sort_keys=True, separators=(",", ":")),
        is_first=before is None,
        is_last=after is None,
        next_label="Save and review" if after is None else "Save and continue",
        back_label=None if before is None else "Save and go back",
        welcome_url=f"{base_url}/welcome",
        resume_url=resume_url,
        notice=notice,
    )


# ---------------------------------------------------------------- conflict


@dataclasses.dataclass(frozen=True)
class ConflictView:
    qid: str
    dom_id: str
    text: str
    yours: str
    yours_note: str | None
    saved: str
    saved_note: str | None
    keep_yours: bool
    yours_json: str


@dataclasses.dataclass(frozen=True)
class ConflictPage:
    """Context of templates/survey/conflict.html: both versions of each changed answer."""

    title: str
    conflicts: tuple[ConflictView, ...]
    form_action: str
    version: int
    page_url: str
    section_title: str


def _note(data: Mapping[str, Any] | None) -> str | None:
    if not data:
        return None
    parts = []
    if data.get("note"):
        parts.append(f"Note: {data['note']}")
    if data.get("evidence"):
        parts.append(f"Evidence: {data['evidence']}")
    return " · ".join(parts) or None


def conflict_page(
    *,
    survey: Survey,
    page: SurveyPage,
    base_url: str,
    conflicts: tuple[AnswerConflict, ...],
    version: int,
) -> ConflictPage:
    catalog = survey.catalog
    return ConflictPage(
        title="Your answers were changed in another tab",
        conflicts=tuple(
            ConflictView(
                qid=c.qid,
                dom_id=dom_id(c.qid),
                text=catalog.questions[c.qid].question.text,
                yours=display_answer(catalog, c.qid, c.yours),
                yours_note=_note(c.yours),
                saved=display_answer(catalog, c.qid, c.saved),
                saved_note=_note(c.saved),
                keep_yours=c.changed_here,
                yours_json=json.dumps(c.yours, sort_keys=True),
            )
            for c in conflicts
        ),
        form_action=f"{base_url}/resolve?page={page.index}",
        version=version,
        page_url=page_url(base_url, page.index),
        section_title=page_heading(page),
    )


# ---------------------------------------------------------------- review


@dataclasses.dataclass(frozen=True)
class ReviewAnswer:
    number: int
    text: str
    answer: str
    answered: bool
    required: bool
    href: str


@dataclasses.dataclass(frozen=True)
class ReviewSection:
    title: str
    instrument_title: str
    href: str
    answered: int
    total: int
    answers: tuple[ReviewAnswer, ...]


@dataclasses.dataclass(frozen=True)
class ReviewGroup:
    """The sections of one instrument."""

    title: str
    sections: tuple[ReviewSection, ...]


def groups_of(sections: tuple[ReviewSection, ...]) -> tuple[ReviewGroup, ...]:
    """Sections grouped by instrument, in survey order."""
    grouped: dict[str, list[ReviewSection]] = {}
    for section in sections:
        grouped.setdefault(section.instrument_title, []).append(section)
    return tuple(ReviewGroup(title=t, sections=tuple(items)) for t, items in grouped.items())


@dataclasses.dataclass(frozen=True)
class ReviewPage:
    """Context of templates/survey/review.html."""

    title: str
    groups: tuple[ReviewGroup, ...]
    required_missing: tuple[ReviewAnswer, ...]
    optional_missing: tuple[ReviewAnswer, ...]
    answered: int
    total: int
    form_action: str
    version: int
    submission_key: str
    back_url: str
    error_message: str | None
    resume_url: str


def _sections(survey: Survey, base_url: str, progress: Progress) -> tuple[ReviewSection, ...]:
    plan = survey.plan
    answers = survey.response.answers
    numbers = {item.qid: n for n, item in enumerate(plan.asked, 1)}
    sections = []
    shown = [(page, part) for page in visible_pages(plan, progress.hidden) for part in page.parts]
    for page, part in shown:
        rows = tuple(
            ReviewAnswer(
                number=numbers[item.qid],
                text=item.question.text,
                answer=display_answer(survey.catalog, item.qid, answers.get(item.qid)),
                answered=item.qid in answers,
                required=item.required,
                href=f"{page_url(base_url, page.index)}#{dom_id(item.qid)}",
            )
            for item in part.questions
            if item.qid not in progress.hidden
        )
        if not rows:
            continue
        sections.append(
            ReviewSection(
                title=part.section.title,
                instrument_title=page.instrument.title,
                href=page_url(base_url, page.index),
                answered=sum(1 for row in rows if row.answered),
                total=len(rows),
                answers=rows,
            )
        )
    return tuple(sections)


def review_page(
    *, survey: Survey, base_url: str, resume_url: str, error_message: str | None = None
) -> ReviewPage:
    progress = survey.progress()
    sections = _sections(survey, base_url, progress)
    rows = [row for section in sections for row in section.answers]
    last = visible_pages(survey.plan, progress.hidden)
    return ReviewPage(
        title="Check your answers",
        groups=groups_of(sections),
        required_missing=tuple(r for r in rows if not r.answered and r.required),
        optional_missing=tuple(r for r in rows if not r.answered and not r.required),
        answered=progress.answered,
        total=progress.total,
        form_action=f"{base_url}/submit",
        version=survey.version,
        submission_key=survey.response.submission_key,
        back_url=page_url(base_url, last[-1].index) if last else f"{base_url}/welcome",
        error_message=error_message,
        resume_url=resume_url,
    )


# ---------------------------------------------------------------- after submitting


@dataclasses.dataclass(frozen=True)
class DonePage:
    """Context of templates/survey/done.html: the thank-you page (read-only answers)."""

    title: str
    solo: bool
    submitted_on: str
    results_min: int
    closes_on: str | None
    results_url: str | None
    groups: tuple[ReviewGroup, ...]
    resume_url: str


def _results_url(survey: Survey, base_url: str) -> str | None:
    """A solo round ends on its results in the workspace (the lead answered it and sees
    them at once); a survey's respondents see them only when the round allows it."""
    assessment_round = survey.assessment_round
    if assessment_round.mode == "solo":
        return f"/teams/{assessment_round.team_id}/rounds/{assessment_round.id}/results"
    return f"{base_url}/results" if assessment_round.respondents_see_results else None


def done_page(*, survey: Survey, base_url: str, resume_url: str) -> DonePage:
    submitted_at = survey.response.submitted_at
    closes_at = survey.assessment_round.closes_at
    return DonePage(
        title="Thank you: your answers are in",
        solo=survey.assessment_round.mode == "solo",
        submitted_on=f"{submitted_at:%-d %B %Y}" if submitted_at else "",
        results_min=survey.assessment_round.results_min,
        closes_on=f"{closes_at:%-d %B %Y}" if closes_at else None,
        results_url=_results_url(survey, base_url),
        groups=groups_of(_sections(survey, base_url, survey.progress())),
        resume_url=resume_url,
    )


@dataclasses.dataclass(frozen=True)
class DimensionSummary:
    title: str
    score: str
    band: str | None


@dataclasses.dataclass(frozen=True)
class ResultsPage:
    """Context of templates/survey/results.html: the team's headline results, shown to
    respondents only when the lead allows it and enough responses are in."""

    title: str
    visible: bool
    responses_needed: int
    trajectory: str | None
    model_name: str | None
    model_summary: str | None
    handoff_level: str | None
    dimensions: tuple[DimensionSummary, ...]
    done_url: str


def _level_text(handoff: Handoff) -> str:
    label = handoff.label or f"level {handoff.level}"
    return label[:1].upper() + label[1:]


def results_page(*, survey: Survey, result: TeamResult | None, base_url: str) -> ResultsPage:
    """The headline results for ``result``, the round's stored original (None: none yet)."""
    shown = result is not None and result.visible
    if result is None or not shown:
        needed = result.round.responses_needed if result else survey.assessment_round.results_min
        respondents = result.round.respondents if result else 0
        return ResultsPage(
            title="Your team's results",
            visible=False,
            responses_needed=max(0, needed - respondents),
            trajectory=None,
            model_name=None,
            model_summary=None,
            handoff_level=None,
            dimensions=(),
            done_url=f"{base_url}/done",
        )
    model = result.process_model(result.recommendation.top)
    handoff = result.handoff
    return ResultsPage(
        title="Your team's results",
        visible=True,
        responses_needed=max(0, result.round.responses_needed - result.round.respondents),
        trajectory=result.trajectory.label,
        model_name=model.name if model else None,
        model_summary=model.summary if model else None,
        # the typed label carries a disputed range ("level 0–2, disputed") where the rule shows it
        handoff_level=_level_text(handoff) if handoff else None,
        dimensions=tuple(
            DimensionSummary(
                title=d.title,
                score="—" if d.score is None else f"{d.score:.0f} / 100",
                band=d.band.label if d.band else None,
            )
            for d in result.dimensions.values()
        ),
        done_url=f"{base_url}/done",
    )
