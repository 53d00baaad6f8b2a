"""A readable changelog between two rubric versions, as `processlens rubric diff` prints it.

`app.rubric.versions` answers the machine's question (which answers must be given again);
this module answers the reader's: what changed, file by file and kind by kind, in words. Rules
are written out ("shown only when team structure is not engineers_build_models"), reworded
texts are shown old → new (shortened), and roles are named. Markdown, so the same text reads
in a terminal and as docs/rubric-changes-2026.2.md.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from app.rubric.loader import Catalog
from app.rubric.rules import AllRule, AnyRule, NotRule, Predicate, Rule, StageRule, rule_to_data
from app.rubric.schema import (
    Caveat,
    Classification,
    DebtItem,
    DefiningProblem,
    Finding,
    FitRule,
    Gate,
    Instrument,
    Option,
    Practice,
    ProcessModel,
    Question,
    SourceRef,
)

SHORT = 90  # characters of a reworded text shown on each side of the arrow

_Item = TypeVar("_Item")


@dataclass(frozen=True, slots=True)
class Entry:
    """One changed thing: its id and what changed about it (empty for added/removed)."""

    subject: str
    summary: str = ""
    details: tuple[str, ...] = ()


@dataclass(slots=True)
class FileChanges:
    """The changes of one rubric file, by kind ("Questions added", "Gates", ...) in order."""

    file: str
    old_version: str | None
    new_version: str | None
    kinds: dict[str, list[Entry]] = field(default_factory=dict)

    def add(self, kind: str, entry: Entry) -> None:
        self.kinds.setdefault(kind, []).append(entry)


# --- words ---------------------------------------------------------------------------------------


def shorten(text: str, limit: int = SHORT) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def reworded(label: str, old: str, new: str) -> str:
    """Old → new, each shortened, starting shortly before the first word that differs so that
    a change late in a long text is still visible."""
    before, after = " ".join(old.split()), " ".join(new.split())
    start = 0
    while start < min(len(before), len(after)) and before[start] == after[start]:
        start += 1
    cut = before.rfind(" ", 0, max(0, start - 20)) + 1
    lead = "…" if cut > 0 else ""
    return f"{label} reworded: “{lead}{shorten(before[cut:])}” → “{lead}{shorten(after[cut:])}”"


def _names(values: Iterable[str]) -> str:
    return ", ".join(v.replace("_", " ") for v in values) or "nobody"


def rule_words(rule: Rule) -> str:
    """A rule as a sentence fragment: `team structure is over_the_wall and stage is ...`."""
    if isinstance(rule, Predicate):
        return _predicate_words(rule, negated=False)
    if isinstance(rule, NotRule):
        if isinstance(rule.not_, Predicate):
            return _predicate_words(rule.not_, negated=True)
        return f"not ({rule_words(rule.not_)})"
    if isinstance(rule, StageRule):
        return "the stage is " + " or ".join(rule.stage)
    if isinstance(rule, AllRule | AnyRule):
        parts = rule.all_ if isinstance(rule, AllRule) else rule.any_
        joiner = " and " if isinstance(rule, AllRule) else " or "
        return joiner.join(
            f"({rule_words(p)})" if isinstance(p, AllRule | AnyRule) else rule_words(p)
            for p in parts
        )
    return str(rule_to_data(rule))  # pragma: no cover - every rule kind is handled above


def _predicate_words(p: Predicate, *, negated: bool) -> str:
    subject = p.q
    is_ = "is not" if negated else "is"
    if p.equals is not None:
        return f"{subject} {is_} {p.equals}"
    if p.in_ is not None:
        return f"{subject} {is_} one of {', '.join(str(v) for v in p.in_)}"
    if p.includes is not None:
        return f"{subject} {'does not include' if negated else 'includes'} {p.includes}"
    bounds = []
    if p.at_least is not None:
        bounds.append(f"at least {p.at_least}")
    if p.at_most is not None:
        bounds.append(f"at most {p.at_most}")
    if bounds:
        return f"{subject} {is_} {' and '.join(bounds)}"
    if p.answered is not None:
        answered = p.answered != negated
        return f"{subject} is {'answered' if answered else 'not answered'}"
    if p.unknown is not None:
        unknown = p.unknown != negated
        return f"{subject} is {'unknown' if unknown else 'known'}"
    return f"{subject} {is_} anything"


def _same_rule(old: Rule | None, new: Rule | None) -> bool:
    return (None if old is None else rule_to_data(old)) == (
        None if new is None else rule_to_data(new)
    )


def _rule_change(label: str, old: Rule | None, new: Rule | None) -> list[str]:
    if _same_rule(old, new):
        return []
    if old is None and new is not None:
        return [f"{label} added: {rule_words(new)}"]
    if new is None and old is not None:
        return [f"{label} removed (was: {rule_words(old)})"]
    assert old is not None
    assert new is not None
    return [f"{label} changed: {rule_words(old)} → {rule_words(new)}"]


def _text_changes(pairs: Sequence[tuple[str, str | None, str | None]]) -> list[str]:
    return [
        reworded(label, old or "", new or "")
        for label, old, new in pairs
        if (old or "") != (new or "")
    ]


def _value_change(label: str, old: object, new: object) -> list[str]:
    return [] if old == new else [f"{label}: {old} → {new}"]


def _sources_change(old: tuple[SourceRef, ...], new: tuple[SourceRef, ...]) -> list[str]:
    before = {(s.doc, s.section) for s in old}
    after = {(s.doc, s.section) for s in new}
    lines = [f"now cites {doc}, “{section}”" for doc, section in sorted(after - before)]
    lines += [f"no longer cites {doc}, “{section}”" for doc, section in sorted(before - after)]
    if not lines and [s.note for s in old] != [s.note for s in new]:
        lines.append("source notes reworded")
    return lines


def _set_change(
    label: str, old: Iterable[str], new: Iterable[str], *, phrases: tuple[str, str] | None = None
) -> list[str]:
    """Members added and removed, named; `phrases` words them ("now required of", ...)."""
    before, after = set(old), set(new)
    added, removed = phrases or (f"{label} added:", f"{label} removed:")
    lines = []
    if after - before:
        lines.append(f"{added} {_names(sorted(after - before))}")
    if before - after:
        lines.append(f"{removed} {_names(sorted(before - after))}")
    return lines


REQUIRED = ("now required of:", "no longer required of:")
OPTIONAL = ("now optional for:", "no longer optional for:")


# --- questions -----------------------------------------------------------------------------------


def _required_roles(instrument: Instrument, question: Question) -> tuple[str, ...]:
    return tuple(question.roles or instrument.roles)


def _optional_roles(instrument: Instrument, question: Question) -> tuple[str, ...]:
    return tuple(question.optional_roles or instrument.optional_roles)


def _option_changes(old: Sequence[Option], new: Sequence[Option]) -> list[str]:
    before = {o.id: o for o in old}
    after = {o.id: o for o in new}
    lines = []
    for option in new:
        if option.id not in before:
            score = "" if option.score is None else f", score {option.score}"
            lines.append(f"option added: {option.id} (“{shorten(option.label, 60)}”{score})")
    for option in old:
        if option.id not in after:
            lines.append(f"option removed: {option.id}")
    for option in new:
        previous = before.get(option.id)
        if previous is None:
            continue
        if previous.score != option.score:
            lines.append(f"option {option.id} rescored: {previous.score} → {option.score}")
        if previous.label != option.label:
            lines.append(reworded(f"option {option.id}", previous.label, option.label))
    kept_old = [o.id for o in old if o.id in after]
    kept_new = [o.id for o in new if o.id in before]
    if kept_old != kept_new:
        lines.append("options reordered")
    return lines


def question_changes(
    old_instrument: Instrument, old: Question, new_instrument: Instrument, new: Question
) -> list[str]:
    """Everything a reader notices about one question between two versions."""
    lines: list[str] = []
    lines += _value_change("type", old.type, new.type)
    lines += _text_changes([("text", old.text, new.text), ("help", old.help, new.help)])
    lines += _option_changes(old.options, new.options)
    lines += _value_change("weight", old.weight, new.weight)
    lines += _value_change("sub-dimension", old.sub_dimension, new.sub_dimension)
    if old.quick != new.quick:
        lines.append("now in the quick check" if new.quick else "no longer in the quick check")
    lines += _set_change(
        "",
        _required_roles(old_instrument, old),
        _required_roles(new_instrument, new),
        phrases=REQUIRED,
    )
    lines += _set_change(
        "",
        _optional_roles(old_instrument, old),
        _optional_roles(new_instrument, new),
        phrases=OPTIONAL,
    )
    if old.stages != new.stages:
        lines.append(f"asked at {_names(new.stages)} (was {_names(old.stages)})")
    lines += _rule_change("display condition (shown only when)", old.show_if, new.show_if)
    lines += _value_change("consensus", old.consensus or "default", new.consensus or "default")
    if old.allow_na != new.allow_na:
        lines.append(
            "“not applicable” now allowed" if new.allow_na else "“not applicable” no longer allowed"
        )
    if old.allow_dont_know != new.allow_dont_know:
        lines.append(
            "“don't know” now allowed" if new.allow_dont_know else "“don't know” no longer allowed"
        )
    if old.evidence != new.evidence:
        lines.append("now asks for evidence" if new.evidence else "no longer asks for evidence")
    lines += _sources_change(old.sources, new.sources)
    return lines


# --- instruments ---------------------------------------------------------------------------------


def _by_id(
    changes: FileChanges,
    kind: str,
    old: Sequence[_Item],
    new: Sequence[_Item],
    key: Callable[[_Item], str],
    summary: Callable[[_Item], str],
    compare: Callable[[_Item, _Item], list[str]],
) -> None:
    """Added, removed and changed items of one kind, matched by id, in the new file's order."""
    before = {key(item): item for item in old}
    after = {key(item): item for item in new}
    for item in new:
        if key(item) not in before:
            changes.add(f"{kind} added", Entry(key(item), summary(item)))
    for item in old:
        if key(item) not in after:
            changes.add(f"{kind} removed", Entry(key(item), summary(item)))
    for item in new:
        previous = before.get(key(item))
        if previous is not None:
            details = compare(previous, item)
            if details:
                changes.add(f"{kind} changed", Entry(key(item), details=tuple(details)))


def _gate(old: Gate, new: Gate) -> list[str]:
    return [
        *_value_change("artifact", old.artifact, new.artifact),
        *_value_change("level", old.level, new.level),
        *_text_changes([("title", old.title, new.title)]),
        *_rule_change("passed when", old.rule, new.rule),
        *_text_changes([("rationale", old.rationale, new.rationale)]),
        *_sources_change(old.sources, new.sources),
    ]


def _classification(old: Classification, new: Classification) -> list[str]:
    lines = _text_changes(
        [("title", old.title, new.title), ("rationale", old.rationale, new.rationale)]
    )
    before = {o.id: o for o in old.outcomes}
    after = {o.id: o for o in new.outcomes}
    for outcome in new.outcomes:
        if outcome.id not in before:
            when = f" when {rule_words(outcome.when)}" if outcome.when else " (fallback)"
            lines.append(f"outcome added: {outcome.id}{when}")
        else:
            previous = before[outcome.id]
            lines += _rule_change(f"outcome {outcome.id} rule", previous.when, outcome.when)
            lines += _text_changes(
                [(f"outcome {outcome.id} description", previous.description, outcome.description)]
            )
    lines += [f"outcome removed: {o.id}" for o in old.outcomes if o.id not in after]
    return lines + _sources_change(old.sources, new.sources)


def _finding(old: Finding, new: Finding) -> list[str]:
    return [
        *_value_change("kind", old.kind, new.kind),
        *_text_changes([("title", old.title, new.title)]),
        *_rule_change("shown when", old.when, new.when),
        *_text_changes([("text", old.text, new.text)]),
        *_sources_change(old.sources, new.sources),
    ]


def _debt_item(old: DebtItem, new: DebtItem) -> list[str]:
    return [
        *_text_changes([("title", old.title, new.title)]),
        *_value_change("category", old.category, new.category),
        *_value_change("quadrant", old.quadrant, new.quadrant),
        *_rule_change("recorded when", old.when, new.when),
        *_value_change("practice", old.practice, new.practice),
        *_text_changes([("description", old.description, new.description)]),
        *_sources_change(old.sources, new.sources),
    ]


_FINDING_KINDS = {"fit_warning": "Warnings", "risk": "Risk findings", "strength": "Strengths"}


def _instrument(changes: FileChanges, old: Instrument | None, new: Instrument | None) -> None:
    if old is None or new is None:
        return
    changes_roles = _set_change("", old.roles, new.roles, phrases=REQUIRED) + _set_change(
        "", old.optional_roles, new.optional_roles, phrases=OPTIONAL
    )
    changes_roles += _text_changes([("description", old.description, new.description)])
    if changes_roles:
        changes.add("Instrument", Entry(new.id, details=tuple(changes_roles)))
    _questions(changes, old, new)
    _by_id(
        changes,
        "Sub-dimensions",
        old.sub_dimensions,
        new.sub_dimensions,
        lambda s: s.id,
        lambda s: s.title,
        lambda a, b: _text_changes(
            [("title", a.title, b.title), ("description", a.description, b.description)]
        ),
    )
    _by_id(
        changes,
        "Bands",
        old.bands,
        new.bands,
        lambda b: b.id,
        lambda b: f"from {b.min_score}",
        lambda a, b: (
            _value_change("starts at", a.min_score, b.min_score)
            + _text_changes([("description", a.description, b.description)])
        ),
    )
    _by_id(
        changes,
        "Gates",
        old.levels.gates if old.levels else (),
        new.levels.gates if new.levels else (),
        lambda g: g.id,
        lambda g: f"{g.artifact} level {g.level}, passed when {rule_words(g.rule)}",
        _gate,
    )
    _levels(changes, old, new)
    _by_id(
        changes,
        "Classifications",
        old.classifications,
        new.classifications,
        lambda c: c.id,
        lambda c: c.title,
        _classification,
    )
    for kind, title in _FINDING_KINDS.items():
        _by_id(
            changes,
            title,
            [f for f in old.findings if f.kind == kind],
            [f for f in new.findings if f.kind == kind],
            lambda f: f.id,
            lambda f: f"{f.title} — shown when {rule_words(f.when)}",
            _finding,
        )
    _by_id(
        changes,
        "Debt items",
        old.debt_items,
        new.debt_items,
        lambda d: d.id,
        lambda d: f"{d.title} — recorded when {rule_words(d.when)}",
        _debt_item,
    )


def _questions(changes: FileChanges, old: Instrument, new: Instrument) -> None:
    old_questions = {q.id: q for q in old.questions}
    new_questions = {q.id: q for q in new.questions}
    for question in new.questions:
        if question.id not in old_questions:
            changes.add(
                "Questions added", Entry(f"{new.id}.{question.id}", f"“{shorten(question.text)}”")
            )
    for question in old.questions:
        if question.id not in new_questions:
            changes.add(
                "Questions removed",
                Entry(f"{old.id}.{question.id}", f"“{shorten(question.text)}”"),
            )
    for question in new.questions:
        previous = old_questions.get(question.id)
        if previous is not None:
            details = question_changes(old, previous, new, question)
            if details:
                changes.add(
                    "Questions changed", Entry(f"{new.id}.{question.id}", details=tuple(details))
                )


def _levels(changes: FileChanges, old: Instrument, new: Instrument) -> None:
    """The level definitions' and the levels rationale's rewording (gates are separate)."""
    if old.levels and new.levels:
        level_lines = _text_changes(
            [("levels rationale", old.levels.rationale, new.levels.rationale)]
        )
        for definition in new.levels.definitions:
            previous = next(
                (d for d in old.levels.definitions if d.level == definition.level), None
            )
            if previous is not None:
                level_lines += _text_changes(
                    [(f"level {definition.level}", previous.description, definition.description)]
                )
        if level_lines:
            changes.add("Levels", Entry("levels", details=tuple(level_lines)))


# --- practices and process models -----------------------------------------------------------------


def _practice(old: Practice, new: Practice) -> list[str]:
    lines = _text_changes(
        [
            ("title", old.title, new.title),
            ("summary", old.summary, new.summary),
            ("why", old.why, new.why),
        ]
    )
    if old.steps != new.steps:
        counts = f"{len(old.steps)} → {len(new.steps)}" if len(old.steps) != len(new.steps) else ""
        lines.append(f"steps rewritten{f' ({counts})' if counts else ''}")
    lines += _value_change("impact", old.impact, new.impact)
    lines += _value_change("effort", old.effort, new.effort)
    lines += _set_change("owners", old.owners, new.owners)
    lines += _set_change("prerequisites", old.prerequisites, new.prerequisites)
    if old.stages != new.stages:
        lines.append(f"stages: {_names(old.stages)} → {_names(new.stages)}")
    lines += _rule_change("recommended when", old.trigger, new.trigger)
    lines += _set_change("answers findings", old.addresses, new.addresses)
    if old.production_control != new.production_control:
        lines.append(
            "now a production control"
            if new.production_control
            else "no longer a production control"
        )
    if old.refinement != new.refinement:
        lines.append("now a refinement" if new.refinement else "no longer a refinement")
    return lines + _sources_change(old.sources, new.sources)


def _defining_problem(old: DefiningProblem, new: DefiningProblem) -> list[str]:
    return [
        *_text_changes([("title", old.title, new.title)]),
        *_rule_change("when", old.when, new.when),
        *_set_change("outcomes", old.outcomes, new.outcomes),
        *_set_change("remedies", old.remedies, new.remedies),
        *_text_changes([("why", old.why, new.why)]),
    ]


def _fit_key(rule: FitRule) -> str:
    return rule_words(rule.when)


def _signed(weight: int) -> str:
    return f"{weight:+d}"


def _fit_rules(old: Sequence[FitRule], new: Sequence[FitRule]) -> list[str]:
    before = {_fit_key(r): r for r in old}
    after = {_fit_key(r): r for r in new}
    lines = [
        f"fit rule added: {_signed(r.weight)} when {k}" for k, r in after.items() if k not in before
    ]
    lines += [
        f"fit rule removed: {_signed(r.weight)} when {k}"
        for k, r in before.items()
        if k not in after
    ]
    for key, rule in after.items():
        previous = before.get(key)
        if previous is not None and previous.weight != rule.weight:
            lines.append(
                f"fit rule reweighted: {_signed(previous.weight)} → {_signed(rule.weight)}"
                f" when {key}"
            )
        if previous is not None and previous.reason != rule.reason:
            lines.append(
                reworded(
                    f"reason of the fit rule when {shorten(key, 60)}", previous.reason, rule.reason
                )
            )
    return lines


def _caveat(old: Caveat, new: Caveat) -> list[str]:
    return [
        *_rule_change("shown when", old.when, new.when),
        *_text_changes([("text", old.text, new.text)]),
        *_sources_change(old.sources, new.sources),
    ]


def _process_model(changes: FileChanges, old: ProcessModel, new: ProcessModel) -> None:
    lines = _text_changes(
        [
            ("name", old.name, new.name),
            ("summary", old.summary, new.summary),
            ("fits when", old.fits_when, new.fits_when),
            ("avoid when", old.avoid_when, new.avoid_when),
        ]
    )
    lines += _fit_rules(old.fit, new.fit)
    before = {c.id: c for c in old.caveats}
    after = {c.id: c for c in new.caveats}
    lines += [
        f"caveat added: {c.id} — shown when {rule_words(c.when)}"
        for c in new.caveats
        if c.id not in before
    ]
    lines += [f"caveat removed: {c.id}" for c in old.caveats if c.id not in after]
    for caveat in new.caveats:
        if caveat.id in before:
            lines += [f"caveat {caveat.id}: {line}" for line in _caveat(before[caveat.id], caveat)]
    if lines:
        changes.add("Process models changed", Entry(new.id, details=tuple(lines)))


# --- the whole catalog ---------------------------------------------------------------------------


def _file_versions(catalog: Catalog) -> dict[str, tuple[str, str]]:
    """File name -> (kind, version) for every rubric file of a catalog."""
    files = {
        name: ("instrument", catalog.instruments[instrument].version)
        for name, instrument in _instrument_files(catalog).items()
    }
    for name in catalog.texts:
        if name in files:
            continue
        if "practices" in name:
            files[name] = ("practices", catalog.practices.version)
        elif "process_models" in name:
            files[name] = ("process_models", catalog.process_models.version)
        else:
            files[name] = ("bibliography", catalog.bibliography.version)
    return files


def _instrument_files(catalog: Catalog) -> dict[str, str]:
    found = {}
    for name in catalog.texts:
        instrument = catalog.instrument_for_file(name)
        if instrument is not None:
            found[name] = instrument.id
    return found


def catalog_changes(old: Catalog, new: Catalog) -> list[FileChanges]:
    """The changes from `old` to `new`, one entry per rubric file that changed, in file order."""
    old_files = _instrument_files(old)
    new_files = _instrument_files(new)
    old_versions = _file_versions(old)
    new_versions = _file_versions(new)
    result = []
    for name in sorted(set(old_versions) | set(new_versions)):
        before = old_versions.get(name)
        after = new_versions.get(name)
        changes = FileChanges(name, before[1] if before else None, after[1] if after else None)
        kind = (after or before or ("", ""))[0]
        if kind == "instrument":
            old_instrument = old.instruments.get(old_files.get(name, ""))
            new_instrument = new.instruments.get(new_files.get(name, ""))
            _instrument(changes, old_instrument, new_instrument)
        elif kind == "practices":
            _by_id(
                changes,
                "Practices",
                old.practices.practices,
                new.practices.practices,
                lambda p: p.id,
                lambda p: p.title,
                _practice,
            )
            _by_id(
                changes,
                "Defining problems",
                old.practices.defining_problems,
                new.practices.defining_problems,
                lambda d: d.id,
                lambda d: d.title,
                _defining_problem,
            )
        elif kind == "process_models":
            _process_models(changes, old, new)
        elif kind == "bibliography":
            _by_id(
                changes,
                "Sources",
                old.bibliography.sources,
                new.bibliography.sources,
                lambda s: s.id,
                lambda s: s.short,
                lambda a, b: _set_change("sections", a.sections, b.sections),
            )
        if changes.kinds or changes.old_version != changes.new_version:
            result.append(changes)
    return result


def _process_models(changes: FileChanges, old: Catalog, new: Catalog) -> None:
    before = {m.id: m for m in old.process_models.process_models}
    after = {m.id: m for m in new.process_models.process_models}
    for model in new.process_models.process_models:
        if model.id not in before:
            changes.add("Process models added", Entry(model.id, model.name))
        else:
            _process_model(changes, before[model.id], model)
    for model in old.process_models.process_models:
        if model.id not in after:
            changes.add("Process models removed", Entry(model.id, model.name))
    if old.process_models.close_margin != new.process_models.close_margin:
        changes.add(
            "Process models changed",
            Entry(
                "close margin",
                details=(f"{old.process_models.close_margin} → {new.process_models.close_margin}",),
            ),
        )


def _main_version(catalog: Catalog) -> str:
    counts = Counter(version for _kind, version in _file_versions(catalog).values())
    return counts.most_common(1)[0][0] if counts else "?"


def changelog_markdown(old: Catalog, new: Catalog) -> str:
    """The changelog as Markdown: a heading per file, a subheading per kind of change."""
    title = f"# Rubric changes: {_main_version(old)} → {_main_version(new)}"
    lines = [
        title,
        "",
        "Generated by `processlens rubric diff OLD NEW` (old and new rubric folders). Texts are",
        f"shortened to {SHORT} characters; rules are written out in words. Stored results of",
        "closed rounds never change; see docs/rubric-format.md for what each field means.",
    ]
    files = catalog_changes(old, new)
    if not files:
        return "\n".join([*lines, "", "Nothing changed.", ""])
    for changes in files:
        lines += ["", f"## {changes.file}", ""]
        if changes.old_version != changes.new_version:
            lines.append(
                f"Version {changes.old_version or '(new file)'} → "
                f"{changes.new_version or '(removed)'}."
            )
            lines.append("")
        for kind, entries in changes.kinds.items():
            lines += [f"### {kind}", ""]
            for entry in entries:
                head = f"- `{entry.subject}`" + (f" — {entry.summary}" if entry.summary else "")
                lines.append(head)
                lines += [f"  - {detail}" for detail in entry.details]
            lines.append("")
        if lines[-1] == "":
            lines.pop()
    return "\n".join(lines) + "\n"
