"""What the team says against what its repository shows, question by question.

Signals never change a score and never set the evidence-backed flag: the comparison sits beside
the result. It reads only the team's consensus (or that the answer is disputed), never a single
respondent's answer, so it reveals nothing the result does not already show.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import ValidationError

from app.rubric import safe_yaml
from app.rubric.loader import Catalog, RubricError
from app.rubric.repository_match import RepositorySignals
from app.rubric.repository_signals import SignalCatalog, load_signal_catalog
from app.rubric.rules import DONT_KNOW, NOT_APPLICABLE

MAX_SIGNALS_FILE_BYTES = 512 * 1024  # a full file is a few dozen KB
_CACHE_KEY = "repository_compare.signals"
Verdict = Literal["agrees", "contradicts", "silent"]
Stance = Literal["supports", "contradicts", "neutral"]


class TeamAnswer(Protocol):
    """A team's answer to one question: the engine's Spread, or a stored result's AnswerSpread."""

    @property
    def consensus(self) -> Any: ...

    @property
    def disputed(self) -> bool: ...

    @property
    def high(self) -> Any: ...


class SignalsFileError(safe_yaml.BadInputError):
    """A signals file that cannot be used, as one line."""


def signals_for(catalog: Catalog, folder: Path) -> SignalCatalog | None:
    """The signals file in `folder`, checked against `catalog` once and kept with it; None
    when it does not fit the catalog (a custom or older rubric): the check is then unavailable
    rather than the page."""
    if _CACHE_KEY not in catalog.cache:
        try:
            catalog.cache[_CACHE_KEY], _ = load_signal_catalog(folder, catalog)
        except RubricError:
            catalog.cache[_CACHE_KEY] = None
    found: SignalCatalog | None = catalog.cache[_CACHE_KEY]
    return found


def compare_stored(
    *,
    catalog: Catalog,
    folder: Path,
    stored: Mapping[str, Any] | None,
    spreads: Mapping[str, TeamAnswer],
) -> RepositoryComparison | None:
    """The comparison for a signals file stored with a round (None without one, or when the
    signals do not fit the catalog)."""
    signals = signals_for(catalog, folder)
    if stored is None or signals is None:
        return None
    return compare(
        catalog=catalog,
        signals=signals,
        readings=RepositorySignals.model_validate(stored),
        spreads=spreads,
    )


def parse_signals_file(text: str, *, source: str, signals: SignalCatalog) -> RepositorySignals:
    """A signals file written by `processlens repo-check`, checked against the signals version
    this ProcessLens reads."""
    data = safe_yaml.load_json(text, source=source, max_chars=MAX_SIGNALS_FILE_BYTES)
    try:
        parsed = RepositorySignals.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "file"
        raise SignalsFileError(
            f"{source}: not a repository signals file ({where}: {first['msg']})"
        ) from None
    if parsed.signals_version != signals.version:
        raise SignalsFileError(
            f"{source}: made with repository signals {parsed.signals_version}; this ProcessLens "
            f"reads {signals.version}: run `processlens repo-check` again"
        )
    return parsed


@dataclass(frozen=True)
class EvidenceLine:
    signal: str
    title: str
    shows: str
    stance: Stance  # towards the team's answer


@dataclass(frozen=True)
class QuestionCheck:
    question: str
    text: str
    team_says: str  # the consensus option's label, "disputed (a – b)", or "don't know"
    disputed: bool
    repository_shows: tuple[str, ...]
    verdict: Verdict
    sides_with: str | None  # for a disputed answer: the end the repository points to
    evidence: tuple[EvidenceLine, ...]


@dataclass(frozen=True)
class RepositoryFinding:
    question: str
    title: str
    text: str


@dataclass(frozen=True)
class RepositoryComparison:
    repository: str
    signals_version: str
    scan_complete: bool
    checks: tuple[QuestionCheck, ...]
    findings: tuple[RepositoryFinding, ...]
    notes: tuple[str, ...]

    def count(self, verdict: Verdict) -> int:
        return sum(1 for check in self.checks if check.verdict == verdict)

    @property
    def confidence_lowered(self) -> bool:
        return self.count("contradicts") > 0


def _label(catalog: Catalog, qid: str, value: Any) -> str:
    question = catalog.questions[qid].question
    if value == DONT_KNOW:
        return "don't know"
    if value == NOT_APPLICABLE:
        return "not applicable"
    option = question.option(value) if isinstance(value, str) else None
    return option.label if option is not None else str(value)


def _held(spread: TeamAnswer | None) -> tuple[str, ...]:
    """The answers the team holds: its consensus, or both ends of a disputed range."""
    if spread is None or not isinstance(spread.consensus, str):
        return ()
    if spread.consensus in (DONT_KNOW, NOT_APPLICABLE):
        return ()
    if spread.disputed and isinstance(spread.high, str) and spread.high != spread.consensus:
        return (spread.consensus, spread.high)
    return (spread.consensus,)


def _verdict(
    held: tuple[str, ...], supported: set[str], contradicted: set[str]
) -> tuple[Verdict, str | None]:
    if not held:
        return "silent", None
    against = [value for value in held if value in contradicted]
    behind = [value for value in held if value in supported and value not in contradicted]
    if len(against) == len(held):
        return "contradicts", None
    if len(behind) == len(held):
        return "agrees", None
    if len(held) > 1:  # a disputed answer: the repository may side with one end
        side = behind[0] if len(behind) == 1 else next(v for v in held if v not in against)
        return "silent", side if against or behind else None
    return "silent", None


_Reading = tuple[str, str, str, frozenset[str], frozenset[str]]  # id, title, shows, +, -


def _readings_by_question(
    *, catalog: Catalog, signals: SignalCatalog, readings: RepositorySignals
) -> dict[str, list[_Reading]]:
    """What each found or absent signal says, grouped by the question it speaks to."""
    by_question: dict[str, list[_Reading]] = {}
    for signal in signals.signals:
        state = readings.state(signal.id)
        if state not in ("found", "absent"):
            continue
        shows = signal.found if state == "found" else signal.absent
        for evidence in signal.if_found if state == "found" else signal.if_absent:
            if evidence.question not in catalog.questions:
                continue
            by_question.setdefault(evidence.question, []).append(
                (
                    signal.id,
                    signal.title,
                    shows,
                    frozenset(evidence.supports),
                    frozenset(evidence.contradicts),
                )
            )
    return by_question


# long: one pass over the signals, then one verdict per question they speak to
def compare(
    *,
    catalog: Catalog,
    signals: SignalCatalog,
    readings: RepositorySignals,
    spreads: Mapping[str, TeamAnswer],
) -> RepositoryComparison:
    """Per question the signals speak to: the team's answer, what the repository shows, and
    whether they agree, contradict or the repository is silent on the team's answer."""
    by_question = _readings_by_question(catalog=catalog, signals=signals, readings=readings)
    checks = []
    findings = []
    order = list(catalog.questions)
    for qid in sorted(by_question, key=order.index):
        lines = by_question[qid]
        spread = spreads.get(qid)
        held = _held(spread)
        supported = set().union(*(line[3] for line in lines))
        contradicted = set().union(*(line[4] for line in lines))
        verdict, side = _verdict(held, supported, contradicted)
        disputed = len(held) > 1
        if disputed:
            team_says = (
                f"disputed ({_label(catalog, qid, held[0])} – {_label(catalog, qid, held[1])})"
            )
        elif held:
            team_says = _label(catalog, qid, held[0])
        elif spread is not None:
            team_says = _label(catalog, qid, spread.consensus)
        else:
            team_says = "not answered"
        lines_shown = tuple(
            EvidenceLine(
                signal=signal_id,
                title=title,
                shows=shows,
                stance=(
                    "contradicts"
                    if any(v in against for v in held)
                    else "supports"
                    if any(v in behind for v in held)
                    else "neutral"
                ),
            )
            for signal_id, title, shows, behind, against in lines
        )
        text = catalog.questions[qid].question.text
        check = QuestionCheck(
            question=qid,
            text=text,
            team_says=team_says,
            disputed=disputed,
            repository_shows=tuple(dict.fromkeys(line[2] for line in lines)),
            verdict=verdict,
            sides_with=_label(catalog, qid, side) if side else None,
            evidence=lines_shown,
        )
        checks.append(check)
        if verdict == "contradicts":
            shown = "; ".join(e.shows for e in lines_shown if e.stance == "contradicts")
            findings.append(
                RepositoryFinding(
                    question=qid,
                    title=f"The repository contradicts the answer to “{text}”",
                    text=f"The team says “{team_says}”, but the repository shows: {shown}. "
                    "Look at the repository together before acting on results that rest on "
                    "this answer.",
                )
            )
    notes = list(readings.notes)
    if not readings.scan.complete:
        notes.insert(0, "The scan stopped at a budget: the repository may show more than this.")
    return RepositoryComparison(
        repository=readings.repository,
        signals_version=readings.signals_version,
        scan_complete=readings.scan.complete,
        checks=tuple(checks),
        findings=tuple(findings),
        notes=tuple(notes),
    )


@dataclass(frozen=True)
class Suggestion:
    """The one option the repository's signals point to for a question, with what it shows."""

    question: str
    option: str
    shows: tuple[str, ...]


def suggestions(
    *, catalog: Catalog, signals: SignalCatalog, readings: RepositorySignals
) -> dict[str, Suggestion]:
    """Per question, the option a solo round's lead may take as a pre-filled answer: only where
    the signals that speak to it, read as in `compare`, together support exactly one option
    (every supporting signal names it) and none contradicts it. Multiple-choice questions get
    none (one option would read as the whole answer)."""
    found: dict[str, Suggestion] = {}
    by_question = _readings_by_question(catalog=catalog, signals=signals, readings=readings)
    for qid, lines in by_question.items():
        if catalog.questions[qid].question.type not in ("ordinal", "single"):
            continue
        backing = [line[3] for line in lines if line[3]]
        if not backing:
            continue
        contradicted = set().union(*(line[4] for line in lines))
        candidates = set(frozenset.intersection(*backing)) - contradicted
        if len(candidates) == 1:
            shows = tuple(dict.fromkeys(line[2] for line in lines))
            found[qid] = Suggestion(question=qid, option=candidates.pop(), shows=shows)
    return found


def comparison_data(comparison: RepositoryComparison) -> dict[str, Any]:
    """The comparison as the JSON of `processlens score --repo-signals` (and the result)."""
    return {
        "repository": comparison.repository,
        "signals_version": comparison.signals_version,
        "scan_complete": comparison.scan_complete,
        "counts": {
            "agrees": comparison.count("agrees"),
            "contradicts": comparison.count("contradicts"),
            "silent": comparison.count("silent"),
        },
        "confidence_lowered": comparison.confidence_lowered,
        "questions": [
            {
                "question": check.question,
                "text": check.text,
                "team_says": check.team_says,
                "disputed": check.disputed,
                "repository_shows": list(check.repository_shows),
                "verdict": check.verdict,
                "sides_with": check.sides_with,
                "evidence": [
                    {"signal": e.signal, "title": e.title, "shows": e.shows, "stance": e.stance}
                    for e in check.evidence
                ],
            }
            for check in comparison.checks
        ],
        "findings": [
            {"question": f.question, "title": f.title, "text": f.text} for f in comparison.findings
        ],
        "notes": list(comparison.notes),
    }


def comparison_text(comparison: RepositoryComparison) -> str:
    """The comparison as lines for `processlens score --format text`."""
    lines = [
        f"Repository check ({comparison.repository}): "
        f"{comparison.count('agrees')} agree, {comparison.count('contradicts')} contradict, "
        f"{comparison.count('silent')} silent"
    ]
    marks = {"agrees": "=", "contradicts": "!", "silent": "?"}
    for check in comparison.checks:
        side = f"; sides with “{check.sides_with}”" if check.sides_with else ""
        lines.append(
            f"  {marks[check.verdict]} {check.question}: the team says “{check.team_says}”; "
            f"the repository shows {'; '.join(check.repository_shows)} "
            f"→ {check.verdict}{side}"
        )
    if comparison.confidence_lowered:
        lines.append(
            "  Confidence lowered: answers the repository contradicts deserve a second look."
        )
    lines.extend(f"  Note: {note}" for note in comparison.notes)
    return "\n".join(lines) + "\n"
