"""Deliberately broken rubrics: the mini rubric (`tests/rubric/mini/`) with one small edit each.

Each case is one kind of mistake a rubric author can make. Rather than keeping 30 near-copies
of the mini rubric on disk, a case is a textual edit (file, old text, new text) applied to a
fresh copy at test time, plus the problem the loader must report: its `file:line:` prefix and a
message substring. The expected line is computed from the edited text, never written by hand.

To look at a case as files (e.g. to run `processlens validate` on it):
`python -m tests.rubric.broken CASE DIR`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MINI = Path(__file__).resolve().parent.parent / "mini"


def mini_texts() -> dict[str, str]:
    """The mini rubric's files by name."""
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(MINI.glob("*.yaml"))}


def apply(texts: dict[str, str], file: str, old: str, new: str) -> dict[str, str]:
    """A copy of `texts` with `old` replaced by `new` in `file`; `old` must occur exactly once,
    so an edit cannot silently stop matching when the mini rubric changes."""
    count = texts[file].count(old)
    if count != 1:
        raise AssertionError(
            f"{file}: expected the text to edit exactly once, found {count}: {old!r}"
        )
    return {**texts, file: texts[file].replace(old, new)}


def line_at(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


@dataclass(frozen=True)
class Case:
    """One broken rubric: an edit of one mini file and the problem it must cause.

    `at` names the text whose line the problem must point at: a part of `new` (its line in
    the edited file), or else a text found exactly once in the edited file (e.g. the
    enclosing entry, for checks on a whole entry). By default, the line where `new` begins.
    """

    name: str
    file: str
    old: str
    new: str
    message: str
    at: str | None = None

    def texts(self) -> dict[str, str]:
        return apply(mini_texts(), self.file, self.old, self.new)

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in self.texts().items():
            (folder / name).write_text(text, encoding="utf-8")
        return folder

    @property
    def line(self) -> int:
        original = mini_texts()[self.file]
        start = original.index(self.old)
        if self.at is None:
            return line_at(original, start)
        if self.at in self.new:
            return line_at(original, start) + self.new[: self.new.index(self.at)].count("\n")
        edited = self.texts()[self.file]
        if edited.count(self.at) != 1:
            raise AssertionError(f"{self.name}: {self.at!r} must occur once in the edited file")
        return line_at(edited, edited.index(self.at))

    @property
    def prefix(self) -> str:
        return f"{self.file}:{self.line}: "


SOURCE = "sources: [{doc: doc_a, section: Alpha, note: test}]"
SPLIT = "      - {id: split, label: Split, description: d, when: {q: structure, equals: separate}}"
JOINT = "      - {id: joint, label: Joint, description: d}"

CASES: tuple[Case, ...] = (
    # --- YAML and file kinds ---
    Case(
        "invalid_yaml_syntax",
        "quality.yaml",
        "title: Quality\n",
        "title: Quality: again\n",
        "invalid YAML: mapping values are not allowed here",
    ),
    Case(
        "duplicate_yaml_key",
        "quality.yaml",
        "title: Quality\n",
        "title: Quality\ntitle: Again\n",
        "invalid YAML: duplicate key 'title'",
        at="title: Again",
    ),
    Case(
        "unknown_kind",
        "shape.yaml",
        "kind: instrument\n",
        "kind: questionnaire\n",
        "'kind' must be one of instrument, practices, process_models, bibliography, "
        "got 'questionnaire'",
    ),
    # --- duplicate ids ---
    Case(
        "duplicate_instrument_id",
        "shape.yaml",
        "id: shape\n",
        "id: quality\n",
        "duplicate instrument id 'quality'",
    ),
    Case(
        "duplicate_question_id",
        "quality.yaml",
        "      - id: structure\n",
        "      - id: unit_tests\n"
        "        text: Asked twice?\n"
        "        help: Why.\n"
        "        type: text\n"
        f"        {SOURCE}\n"
        "      - id: structure\n",
        "duplicate question id 'unit_tests'",
    ),
    Case(
        "duplicate_option_id",
        "quality.yaml",
        "{id: basic, label: Basic, score: 1}",
        "{id: none, label: Basic, score: 1}",
        "sections.0.questions.2: duplicate option id(s) ['none']",
        at="      - id: monitoring",  # a check on the whole question: its first line
    ),
    Case(
        "duplicate_practice_id",
        "practices.yaml",
        "  - id: add_monitoring\n",
        "  - id: data_tests\n",
        "duplicate practice id 'data_tests'",
    ),
    # --- questions and options ---
    Case(
        "reserved_option_id",
        "quality.yaml",
        "{id: basic, label: Basic, score: 1}",
        "{id: dont_know, label: Basic, score: 1}",
        "option id 'dont_know' is reserved for the built-in answer",
    ),
    Case(
        "score_above_scale",
        "quality.yaml",
        "{id: full, label: Full, score: 4}",
        "{id: full, label: Full, score: 5}",
        "sections.0.questions.2.options.2.score: Input should be less than or equal to 4",
    ),
    Case(
        "score_below_scale",
        "quality.yaml",
        "{id: none, label: None, score: 0}\n          - {id: basic",
        "{id: none, label: None, score: -1}\n          - {id: basic",
        "sections.0.questions.2.options.0.score: Input should be greater than or equal to 0",
    ),
    Case(
        "weight_zero",
        "quality.yaml",
        "        weight: 2\n",
        "        weight: 0\n",
        "sections.0.questions.0: weight must be greater than 0",
        at="      - id: unit_tests",  # a check on the whole question: its first line
    ),
    Case(
        "weight_negative",
        "quality.yaml",
        "        weight: 2\n",
        "        weight: -1.5\n",
        "sections.0.questions.0: weight must be greater than 0, got -1.5",
        at="      - id: unit_tests",
    ),
    Case(
        "unknown_sub_dimension",
        "quality.yaml",
        "        sub_dimension: ops\n        roles:",
        "        sub_dimension: opz\n        roles:",
        "unknown sub-dimension 'opz' (declared: tests, ops)",
    ),
    Case(
        "quick_subset_missing_sub_dimension",
        "quality.yaml",
        "        sub_dimension: ops\n        quick: true\n",
        "        sub_dimension: ops\n",
        "the quick check has no question in sub-dimension 'ops'",
        at="  - {id: ops, title: Ops, description: Operations.}",
    ),
    # --- citations ---
    Case(
        "source_document_not_in_bibliography",
        "quality.yaml",
        f"{SOURCE}\nsub_dimensions:",
        "sources: [{doc: doc_b, section: Alpha, note: test}]\nsub_dimensions:",
        "source 'doc_b' is not in the bibliography (known: doc_a)",
    ),
    Case(
        "practice_source_not_in_bibliography",
        "practices.yaml",
        "    sources: [{doc: doc_a, section: Beta, note: n}]\n    impact: 3",
        "    sources: [{doc: doc_z, section: Beta, note: n}]\n    impact: 3",
        "source 'doc_z' is not in the bibliography",
    ),
    Case(
        "source_section_not_in_document",
        "shape.yaml",
        f"        type: text\n        {SOURCE}",
        "        type: text\n        sources: [{doc: doc_a, section: Gamma, note: test}]",
        "section 'Gamma' is not a listed heading of 'doc_a'",
        at="sources: [{doc: doc_a, section: Gamma",
    ),
    # --- rules ---
    Case(
        "rule_with_unknown_key",
        "quality.yaml",
        "show_if: {q: structure, in: [separate]}",
        "show_if: {q: structure, in: [separate], colour: red}",
        "show_if: unknown key(s) ['colour'] in predicate on 'quality.structure'",
    ),
    Case(
        "unknown_question_in_rule",
        "quality.yaml",
        "rule: {q: unit_tests, at_least: some}",
        "rule: {q: unit_testz, at_least: some}",
        "rule refers to unknown question 'quality.unit_testz'",
    ),
    Case(
        # an unqualified id means "this instrument": another instrument's question needs its
        # qualified id
        "unqualified_id_of_another_instrument",
        "shape.yaml",
        "{q: stakes, equals: high}",
        "{q: unit_tests, at_least: some}",
        "rule refers to unknown question 'shape.unit_tests'",
    ),
    Case(
        "unknown_option_in_rule",
        "quality.yaml",
        "rule: {q: monitoring, at_least: basic}",
        "rule: {q: monitoring, at_least: basik}",
        "rule on quality.monitoring uses unknown option 'basik' (options: none, basic, full)",
    ),
    Case(
        "unknown_option_in_cross_instrument_rule",
        "process_models.yaml",
        "{q: shape.stakes, equals: high}, weight: 3",
        "{q: shape.stakes, equals: severe}, weight: 3",
        "rule on shape.stakes uses unknown option 'severe' (options: low, high)",
    ),
    Case(
        "rule_score_outside_scale",
        "quality.yaml",
        "{q: data_tests, at_least: 4}",
        "{q: data_tests, at_least: 5}",
        "rule on quality.data_tests compares with score 5, outside 0-4",
    ),
    Case(
        "rule_compares_single_choice_with_number",
        "process_models.yaml",
        "{q: shape.stakes, equals: high}, weight: -1",
        "{q: shape.stakes, equals: 2}, weight: -1",
        "rule on shape.stakes compares a single question with number 2",
    ),
    Case(
        "includes_on_single_choice",
        "quality.yaml",
        "when: {q: structure, equals: separate}}",
        "when: {q: structure, includes: separate}}",
        "'includes' needs a multiple-choice question; quality.structure is single",
    ),
    Case(
        "rule_on_free_text",
        "quality.yaml",
        "when: {q: monitoring, equals: none}",
        "when: {q: shape.comment, equals: none}",
        "rules cannot test the free text of shape.comment",
    ),
    # --- bands, levels, classifications ---
    Case(
        "bands_not_ascending",
        "quality.yaml",
        "min_score: 70",
        "min_score: 40",
        "bands must ascend: 'high' starts at 40",
    ),
    Case(
        "first_band_not_at_zero",
        "quality.yaml",
        "{id: low, label: Low, min_score: 0,",
        "{id: low, label: Low, min_score: 10,",
        "the first band must start at 0",
    ),
    Case(
        "gate_for_unknown_artifact",
        "quality.yaml",
        "      artifact: operations\n      level: 1\n",
        "      artifact: operation\n      level: 1\n",
        "unknown artifact 'operation' (known: operations, overall, testing)",
    ),
    Case(
        "artifact_without_gate_at_a_level",
        "quality.yaml",
        "      artifact: operations\n      level: 2\n",
        "      artifact: testing\n      level: 2\n",
        "artifact 'operations' has no gate for level 2",
        at="    - {id: operations, title: Operations}",
    ),
    Case(
        "classification_fallback_not_last",
        "quality.yaml",
        f"{SPLIT}\n{JOINT}\n",
        f"{JOINT}\n{SPLIT}\n",
        "classifications.0: only the last outcome may omit 'when' (see 'joint')",
        at="  - id: pattern",  # a check on the whole classification: its first line
    ),
    Case(
        "debt_item_names_unknown_practice",
        "quality.yaml",
        "    practice: automate_deploys\n",
        "    practice: automate_deploy\n",
        "unknown practice 'automate_deploy'",
    ),
    # --- practices ---
    Case(
        "practice_no_answers_can_trigger",
        "practices.yaml",
        "trigger: {q: quality.unit_tests, at_most: some}",
        "trigger: {all: [{q: quality.unit_tests, equals: none}, "
        "{q: quality.unit_tests, equals: all}]}",
        "no answers can trigger practice 'write_unit_tests'",
    ),
    Case(
        "unknown_prerequisite",
        "practices.yaml",
        "prerequisites: [write_unit_tests]",
        "prerequisites: [write_tests]",
        "unknown prerequisite practice 'write_tests'",
    ),
    Case(
        "practice_requires_itself",
        "practices.yaml",
        "prerequisites: [write_unit_tests]",
        "prerequisites: [data_tests]",
        "a practice cannot require itself",
    ),
    Case(
        "unqualified_question_in_practices",
        "practices.yaml",
        "trigger: {q: quality.deploy, at_most: scripted}",
        "trigger: {q: deploy, at_most: scripted}",
        "question 'deploy' must be qualified as 'instrument.question' here",
    ),
    Case(
        "practice_addresses_unknown_question",
        "practices.yaml",
        "addresses: [quality.deploy]",
        "addresses: [quality.deploys]",
        "unknown question 'quality.deploys'",
    ),
    # --- process models ---
    Case(
        "unqualified_question_in_process_models",
        "process_models.yaml",
        "        when: {q: shape.stakes, equals: high}\n",
        "        when: {q: stakes, equals: high}\n",
        "question 'stakes' must be qualified as 'instrument.question' here",
    ),
    Case(
        "fit_weight_zero",
        "process_models.yaml",
        "weight: -1,",
        "weight: 0,",
        "a fit rule's weight must not be 0",
    ),
    Case(
        "fit_rule_uses_practice_question",
        "process_models.yaml",
        "{q: shape.risk, in: [known, plausible]}",
        "{q: quality.unit_tests, at_least: some}",
        "process-model fit rules use quality.unit_tests, a scored practice question",
    ),
    Case(
        "quick_check_cannot_rank_a_model",
        "process_models.yaml",
        "{when: {q: shape.risk, equals: unknown_feasibility}, weight: 3,",
        "{when: {q: shape.team_size, at_least: 5}, weight: 3,",
        "risk_first has no positive fit rule on quick-check questions",
    ),
)

BY_NAME = {case.name: case for case in CASES}
