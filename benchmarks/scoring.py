"""Scoring throughput: full responses scored per second on one core, against a floor.

The floor is the time to merely parse and validate the same answers (what any caller must do
anyway); the figure is parse + validate + score. Run: `python benchmarks/scoring.py [--json]`.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.rubric.answers import RoundSettings, validate_answers  # noqa: E402
from app.rubric.loader import Catalog, load_catalog  # noqa: E402
from app.rubric.schema import ROLES, Role  # noqa: E402
from app.rubric.scoring import score_response  # noqa: E402
from app.rubric.synthetic import random_profile, synthetic_answers  # noqa: E402

TARGET_PER_SECOND = 5000


def make_responses(
    catalog: Catalog, count: int, seed: int = 7
) -> list[tuple[RoundSettings, str, Role]]:
    """`count` full responses, as JSON texts as they would come from the database."""
    rng = random.Random(seed)
    stages = ("exploration", "prototype", "productionising", "operating")
    responses = []
    profiles = [random_profile(catalog, rng) for _ in range(50)]
    for index in range(count):
        settings = RoundSettings(stage=rng.choice(stages), mode="team_survey")  # type: ignore[arg-type]
        role = ROLES[index % 5]
        answers = synthetic_answers(catalog, settings, role, profiles[index % 50], rng)
        responses.append((settings, json.dumps(answers), role))
    return responses


def measure(count: int) -> list[dict[str, Any]]:
    catalog = load_catalog(ROOT / "questionnaires")
    responses = make_responses(catalog, count)
    start = time.perf_counter()
    for _settings, text, _role in responses:
        validate_answers(catalog, json.loads(text))
    floor_seconds = time.perf_counter() - start
    start = time.perf_counter()
    for settings, text, role in responses:
        score_response(catalog, settings, role, validate_answers(catalog, json.loads(text)))
    seconds = time.perf_counter() - start
    rate, floor_rate = count / seconds, count / floor_seconds
    return [
        {
            "name": "scoring: full responses per second (one core)",
            "value": round(rate),
            "unit": "responses/s",
            "floor": round(floor_rate),
            "ratio": round(seconds / floor_seconds, 2),
            "target": f"> {TARGET_PER_SECOND} responses/s",
            "ok": rate > TARGET_PER_SECOND,
        }
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--responses", type=int, default=10_000)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    figures = measure(args.responses)
    if args.json:
        sys.stdout.write(json.dumps(figures, indent=2) + "\n")
    else:
        for f in figures:
            sys.stdout.write(
                f"{f['name']}: {f['value']} {f['unit']} (floor: parse+validate {f['floor']}/s; "
                f"time ratio {f['ratio']}x; target {f['target']}: "
                + ("ok" if f["ok"] else "MISSED")
                + ")\n"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
