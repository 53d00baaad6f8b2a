"""`processlens score --format text`: everything the JSON result holds, as readable sections.

The input is the JSON result (``app.rubric.output.to_data``), the contract the CLI, API and
stored results share, so the text can never show something the JSON does not.
``SECTIONS`` names the section that shows each of its top-level keys; a test checks that a new
key gets one.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

WIDTH = 100
Data = Mapping[str, Any]

GATE_MARKS = {"met": "✓", "missing": "✗", "unknown": "?", "not_expected": "·"}
STATUS_MARKS = {"holds": "!", "unknown": "?", "does_not_hold": "-"}
# the scales perception gaps are measured on (app.rubric.aggregate)
GAP_SCALES = {"dimension": "score, 0–100", "question": "answer step, 0 = lowest option"}


def _wrap(text: str, indent: int = 0, first: str = "") -> list[str]:
    """``text`` wrapped at WIDTH; ``first`` (a bullet) starts the first line."""
    pad = " " * indent
    return textwrap.wrap(
        text,
        width=WIDTH,
        initial_indent=pad + first,
        subsequent_indent=pad + " " * len(first),
        break_on_hyphens=False,
    ) or [pad + first.rstrip()]


def _heading(title: str) -> list[str]:
    return ["", title, "=" * len(title)]


def _percent(share: float | None) -> str:
    return "–" if share is None else f"{round(100 * share)} %"


def _words(value: Any) -> str:
    """An id as words ("dead_code" -> "dead code"); "–" when the result has none."""
    return "–" if value is None else str(value).replace("_", " ")


def _number(value: float | None) -> str:
    return "–" if value is None else f"{round(value, 2):g}"


def _round(data: Data) -> list[str]:
    info = data["round"]
    shown = (
        "results visible"
        if info["results_visible"]
        else f"results hidden until {info['responses_needed']} responses"
    )
    lines = [
        f"Round: {info['kind']} {_words(info['mode'])} at the {info['stage']} stage, "
        f"{info['respondents']} respondent(s); {shown}",
        f"Instruments: {', '.join(info['instruments'])}",
        f"Evidence behind the answers: {_percent(data['confidence']['evidence_share'])} "
        "of answers were marked as backed by evidence",
        f"Result schema version {data['schema_version']}; rubric files:",
    ]
    lines += [f"  {name} {digest[:12]}" for name, digest in info["rubric_versions"].items()]
    return lines


def _reasons(title: str, mark: str, reasons: Sequence[Any]) -> list[str]:
    lines = []
    if reasons:
        lines.append(f"  {title}:")
    for reason in reasons:
        answers = "; ".join(a["answer_label"] for a in reason["answers"])
        weight = f" ({reason['weight']:+g})" if reason.get("weight") else ""
        lines += _wrap(f"{reason['reason']}{weight}", 4, f"{mark} ")
        if answers:
            lines += _wrap(f"because: {answers}", 8)
    return lines


def _recommendation(data: Data) -> list[str]:
    models = {m["id"]: m for m in data["process_models"]}
    decision = data["recommendation"]
    top = models[decision["top"]]
    runner = models[decision["runner_up"]]
    if decision.get("recommended", True):
        lines = [f"Recommended process: {top['name']} (fit {top['fit']:g})"]
    else:
        lines = [f"No process is recommended: none fits (the closest is {top['name']})"]
    close = ", it's close" if decision["close"] else ""
    lines.append(
        f"Runner-up: {runner['name']} (fit {runner['fit']:g}; margin {decision['margin']:g}{close})"
    )
    lines += _wrap(top["summary"], 2)
    lines += _reasons("For it", "+", top["reasons"])
    lines += _reasons("Against it", "-", top["against"])
    lines += _reasons("Not yet known", "?", top["undecided"])
    if top["caveats"]:
        lines.append("  Caveats (! holds, ? not known):")
    for caveat in top["caveats"]:
        lines += _wrap(caveat["text"], 4, f"{STATUS_MARKS.get(caveat['status'], '?')} ")
    lines.append("All process models by fit:")
    lines += [f"  {m['fit']:>6g}  {m['name']}" for m in data["process_models"]]
    return lines


def _what_would_change(data: Data) -> list[str]:
    names = {m["id"]: m["name"] for m in data["process_models"]}
    changes = data["sensitivity"]
    if not changes:
        return ["No single different answer would change the recommendation or a level."]
    lines = ["One different answer that would change the recommendation or a handoff level:"]
    question = None
    for change in changes:
        if change["question"] != question:
            question = change["question"]
            answered = change["current"] is not None and change["current_label"]
            now = f"“{change['current_label']}”" if answered else "no answer"
            lines += _wrap(f"“{change['text']}” (now {now})", 0, "- ")
        if change["effect"] == "top_model":
            before = names.get(change["before"], change["before"])
            after = names.get(change["after"], change["after"])
            effect = f"the recommendation would be {after} instead of {before}"
        else:
            effect = (
                f"{_words(change['subject'])} {_words(change['effect'])} "
                f"{change['before']} → {change['after']}"
            )
        alternative = change["alternative_label"] or _words(change["alternative"])
        lines += _wrap(f"“{alternative}”: {effect}", 4, "if ")
    return lines


def _trajectory(data: Data) -> list[str]:
    trajectory = data["trajectory"]
    lines = [f"Trajectory: {trajectory['label']} (fit: {trajectory['fit']})"]
    for warning in trajectory["warnings"]:
        mark = STATUS_MARKS.get(warning["status"], "?")
        lines += _wrap(f"{warning['title']}: {warning['text']}", 2, f"{mark} ")
    lines.append("Classifications:")
    for item in data["classifications"].values():
        label = item["label"] or "unknown"
        if item["disputed"] and item["alternative"]:
            label += f" (disputed; or {item['alternative']})"
        lines += _wrap(f"{item['title']}: {label}", 2, "- ")
        if item["unknown_because"]:
            lines += _wrap("not known because: " + "; ".join(item["unknown_because"]), 6)
    return lines


def _question_list(title: str, questions: Sequence[str], texts: Mapping[str, str]) -> list[str]:
    if not questions:
        return []
    lines = [f"  {title}:"]
    for qid in questions:
        lines += _wrap(texts.get(qid, qid), 4, "- ")
    return lines


def _dimension(dimension: Data, texts: Mapping[str, str]) -> list[str]:
    if dimension["score"] is None:
        rating = "no score (no scored answers)"
    else:
        band = dimension["band"]["label"] if dimension["band"] else None
        level = f"level {dimension['level']}" if "level" in dimension else None
        rating = ", ".join(
            part for part in (f"{dimension['score']:g}/100", band, level) if part is not None
        )
    lines = [f"{dimension['title']}: {rating}, coverage {_percent(dimension['coverage'])}"]
    for sub in dimension["sub_dimensions"].values():
        lines.append(
            f"  {sub['title']}: {_number(sub['score'])}, coverage {_percent(sub['coverage'])}"
        )
    lines.append("  How the score is made, question by question (points of the possible):")
    for part in dimension["explanation"]:
        lines += _wrap(part["text"], 4, "- ")
        lines += _wrap(
            f"“{part['answer_label']}” (option {part['score']}, weight {part['weight']:g}): "
            f"{part['points']:g} of {part['max_points']:g} points",
            6,
        )
    lines += _question_list("Knowledge gaps (“don't know”)", dimension["knowledge_gaps"], texts)
    lines += _question_list("Unanswered", dimension["unanswered"], texts)
    lines += _question_list("Not applicable", dimension["not_applicable"], texts)
    lines += _question_list("For a later stage", dimension["later"], texts)
    return lines


def _dimensions(data: Data) -> list[str]:
    texts = _question_texts(data)
    lines: list[str] = []
    for dimension in data["dimensions"].values():
        lines += [*_dimension(dimension, texts), ""]
    if data["targets"]:
        lines.append("Targets:")
    for target in data["targets"]:
        met = "met" if target["met"] else f"{target['percent']} % there"
        lines.append(f"  {target['dimension']}: {target['target']} ({met})")
    return lines


def _question_texts(data: Data) -> dict[str, str]:
    """Question texts the result carries (in explanations and what-would-change)."""
    texts = {
        part["question"]: part["text"]
        for d in data["dimensions"].values()
        for part in d["explanation"]
    }
    texts.update({change["question"]: change["text"] for change in data["sensitivity"]})
    return texts


def _artifact_level(part: Data) -> list[str]:
    low, high = part["range"]
    level = f"level {low}" if low == high else f"level {low}–{high}"
    if not part["certain"]:
        level += " (not certain)"
    if part["not_expected"]:
        level += ", not expected at this stage"
    lines = [f"  {part['title']}: {level}; next level {part['next_level']}"]
    for gate in part["gates"]:
        mark = GATE_MARKS.get(gate["status"], "?")
        lines += _wrap(f"level {gate['level']}: {gate['title']} ({gate['status']})", 4, f"{mark} ")
        if gate["unknown_because"]:
            lines += _wrap("not known because: " + "; ".join(gate["unknown_because"]), 8)
    return lines


def _handoff(data: Data) -> list[str]:
    levels = data["handoff"]
    if not levels:
        return ["No handoff levels (the handoff instrument was not part of this round)."]
    lines = [f"Handoff {levels['label']}" + ("" if levels["certain"] else " (not certain)")]
    if levels["note"]:
        lines += _wrap(levels["note"], 2)
    lines.append("Gates: ✓ met, ✗ missing, ? not known, · not expected yet")
    for part in levels["artifacts"].values():
        lines += _artifact_level(part)
    if levels["process"]:
        lines += _artifact_level(levels["process"])
    return lines


def _roadmap_item(item: Data) -> list[str]:
    owners = ", ".join(_words(owner) for owner in item["owners"])
    lines = _wrap(
        f"{item['title']} ({item['dimension']}; effort {item['effort']}, impact {item['impact']}, "
        f"priority {item['priority']:g}; owners: {owners})",
        2,
        "- ",
    )
    why = item["reason"]
    if item["unlocks"]:
        why += f"; unlocks {item['unlocks']}"
    if item.get("remedies") and item["remedies"]["title"] not in why:
        why += f"; remedies {item['remedies']['title']}"
    lines += _wrap(f"Why: {why}", 4)
    for number, step in enumerate(item["steps"], start=1):
        lines += _wrap(step, 4, f"{number}. ")
    return lines


def _roadmap(data: Data) -> list[str]:
    roadmap = data["roadmap"]
    lines: list[str] = []
    for bucket in ("now", "next", "later", "adopted"):
        items = roadmap[bucket]
        lines.append(f"{bucket.title()} ({len(items)}):" if items else f"{bucket.title()}: none")
        for item in items:
            lines += _roadmap_item(item)
    if roadmap["to_check"]:
        lines += _wrap("To check first: " + ", ".join(roadmap["to_check"]))
    for path in roadmap["level_paths"]:
        lines += _wrap(
            f"To reach {path['title'].lower()} level {path['level']}: "
            + "; ".join(path["gates"])
            + f" (practices: {', '.join(path['practices'])})",
            0,
            "- ",
        )
    return lines


def _debt_register(data: Data) -> list[str]:
    if not data["debt_register"]:
        return ["No debt recorded by these answers."]
    lines: list[str] = []
    for row in data["debt_register"]:
        lines += _wrap(
            f"{row['title']} ({_words(row['category'])}; {_words(row['quadrant'])} quadrant)",
            0,
            "- ",
        )
        lines += _wrap(row["description"] or "", 2)
        if row["practice"]:
            lines += _wrap(f"Practice: {row['practice']}", 2)
        if row["source"]:
            lines += _wrap(f"Source: {row['source']}", 2)
    return lines


def _perception_gaps(data: Data) -> list[str]:
    gaps = data["perception_gaps"]
    if not gaps:
        return _wrap(
            "None shown: no two role groups differ enough, or a group is smaller than the "
            "minimum the result may show."
        )
    pairs: dict[tuple[str, str], int] = {}
    for gap in gaps:
        pair = (_words(gap["lower_group"]), _words(gap["higher_group"]))
        pairs[pair] = pairs.get(pair, 0) + 1
    lines = [
        f"{_words(lower).capitalize()} rate lower than {higher} on {count} of the gaps."
        for (lower, higher), count in sorted(pairs.items(), key=lambda item: -item[1])
    ]
    lines.append(f"{len(gaps)} gap(s), largest first (lower group → higher group):")
    for kind in ("dimension", "question"):
        rows = [gap for gap in gaps if gap["kind"] == kind]
        if rows:
            lines.append(f"By {kind} ({GAP_SCALES[kind]}):")
        for gap in rows:
            lines += _wrap(
                f"{_words(gap['lower_group'])} {_number(gap['lower_value'])} → "
                f"{_words(gap['higher_group'])} {_number(gap['higher_value'])} "
                f"(gap {_number(gap['size'])}): {gap['title']}",
                2,
                "- ",
            )
    return lines


def _answers(data: Data) -> list[str]:
    lines = ["The team's answer to each question (counts where people differ):"]
    for qid, answer in data["answers"].items():
        label = answer["consensus_label"] or _words(answer["consensus"])
        if answer["disputed"]:
            label += f" — disputed, up to {answer['high']}"
        lines += _wrap(f"{qid}: {label}", 0, "- ")
        if answer["disagreement"]:
            counts = ", ".join(f"{value} {count}" for value, count in answer["counts"].items())
            lines += _wrap(f"answers: {counts} ({_words(answer['mode'])})", 4)
    return lines


def _mapping_lines(title: str, values: Mapping[str, Any]) -> list[str]:
    if not values:
        return []
    return [f"{title}:", *(f"  {key}: {value}" for key, value in values.items())]


def _comparison(data: Data) -> list[str]:
    comparison = data["comparison"]
    if comparison is None:
        return ["No earlier round to compare with."]
    if comparison.get("not_compared"):
        return [str(comparison["not_compared"]).capitalize() + "."]
    return [
        *_mapping_lines("Dimension changes", comparison["dimensions"]),
        *_mapping_lines("Question changes", comparison["questions"]),
        *_mapping_lines("Adopted practices since", comparison["adopted_moved"]),
    ] or ["No change since the earlier round."]


def _findings(data: Data) -> list[str]:
    if not data["findings"]:
        return ["None."]
    lines = []
    for finding in data["findings"]:
        mark = STATUS_MARKS.get(finding["status"], "?")
        kind = _words(finding["kind"])
        lines += _wrap(f"{finding['title']} ({kind}, {finding['status']})", 0, f"{mark} ")
        lines += _wrap(finding["text"], 2)
        if finding["unknown_because"]:
            lines += _wrap("not known because: " + "; ".join(finding["unknown_because"]), 2)
    return lines


def _warnings(data: Data) -> list[str]:
    if not data["warnings"]:
        return ["None."]
    return [line for warning in data["warnings"] for line in _wrap(warning, 0, "- ")]


Section = tuple[str, Callable[[Data], list[str]], tuple[str, ...]]
# (heading, renderer, the top-level JSON keys it shows), in reading order
SECTIONS: tuple[Section, ...] = (
    ("Round", _round, ("round", "confidence", "schema_version")),
    ("Recommended process", _recommendation, ("recommendation", "process_models")),
    ("What would change the recommendation", _what_would_change, ("sensitivity",)),
    ("Trajectory", _trajectory, ("trajectory", "classifications")),
    ("Dimensions", _dimensions, ("dimensions", "targets")),
    ("Handoff levels", _handoff, ("handoff",)),
    ("Roadmap", _roadmap, ("roadmap",)),
    ("Debt register", _debt_register, ("debt_register",)),
    ("Perception gaps", _perception_gaps, ("perception_gaps",)),
    ("Findings", _findings, ("findings",)),
    ("Change since the earlier round", _comparison, ("comparison",)),
    ("Answers", _answers, ("answers",)),
    ("Notes", _warnings, ("warnings",)),
)
# shown by the CLI after these sections (app.rubric.repository_compare.comparison_text)
SHOWN_ELSEWHERE = frozenset({"repository"})


def shown_keys() -> frozenset[str]:
    return frozenset(key for _, _, keys in SECTIONS for key in keys) | SHOWN_ELSEWHERE


def render(data: Data) -> str:
    """The whole result as text, one titled section per part of the JSON."""
    lines: list[str] = []
    for heading, section, _keys in SECTIONS:
        lines += [*_heading(heading), *section(data)]
    return "\n".join(_strip(lines)).lstrip("\n") + "\n"


def _strip(lines: Iterable[str]) -> Iterable[str]:
    return (line.rstrip() for line in lines)
