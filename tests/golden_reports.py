"""Golden reports (exercism's test runners keep golden results.json files): the reports of the
references, of the untouched stubs (tests/test_grading.py) and of a few fixed mistakes
(tests/test_mutations.py), kept under tests/golden/ and compared field by field, so that a change of a
message, a status or a point shows as a diff someone reviews.

What is kept of a report: the mistake's own exercise (a class graded on several exercises
gives each student every one of them, so the others depend on who else is in the class): its
status, score and one cause (`import_failure` or `by_hand`), and each check's status, score, message, cause,
retry and `not_checked`. What is left out varies
with the machine or the moment, never with the grade: seconds, dates, versions, paths (a
report names no folder of the grading machine anyway), and what a check measured.

`pytest tests/test_grading.py tests/test_mutations.py -k golden --update-golden` writes the files again from this run; the diff
is then reviewed like code (tests/README.md)."""

from __future__ import annotations

import json
from pathlib import Path

GOLDEN = Path(__file__).with_name("golden")
EXERCISE_KEYS = ("id", "status", "score", "max_score", "import_failure", "by_hand")
CHECK_KEYS = ("name", "status", "score", "max_score", "message", "cause", "retry", "not_checked")


def kept(report: dict, exercise_id: str) -> dict:
    """The part of a report a golden file holds: the exercise `exercise_id`."""
    return {
        "exercises": [
            {**{k: ex[k] for k in EXERCISE_KEYS if k in ex}, "checks": [{k: c[k] for k in CHECK_KEYS if k in c} for c in ex["checks"]]}
            for ex in report["exercises"]
            if ex["id"] == exercise_id
        ],
    }


def differences(golden: dict, now: dict) -> list[str]:
    """What changed, check by check, in words: "ex01 normalize_values message: 'old' -> 'new'"."""
    said = []
    old_exercises = {ex["id"]: ex for ex in golden["exercises"]}
    for ex in now["exercises"]:
        old = old_exercises.pop(ex["id"], None)
        if old is None:
            said.append(f"{ex['id']}: a new exercise in the report")
            continue
        said += [f"{ex['id']} {k}: {old.get(k)!r} -> {ex.get(k)!r}" for k in EXERCISE_KEYS if old.get(k) != ex.get(k)]
        old_checks = {c["name"]: c for c in old["checks"]}
        for check in ex["checks"]:
            before = old_checks.pop(check["name"], None)
            if before is None:
                said.append(f"{ex['id']} {check['name']}: a new check")
                continue
            said += [f"{ex['id']} {check['name']} {k}: {before.get(k)!r} -> {check.get(k)!r}" for k in CHECK_KEYS if before.get(k) != check.get(k)]
        said += [f"{ex['id']} {name}: a check no longer in the report" for name in old_checks]
    said += [f"{name}: an exercise no longer in the report" for name in old_exercises]
    return said


def compare(name: str, report: dict, exercise_id: str, update: bool) -> list[str]:
    """The differences between `report`'s exercise and tests/golden/<name>.json (written there when `update`)."""
    path = GOLDEN / f"{name}.json"
    now = kept(report, exercise_id)
    if update:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(json.dumps(now, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        return []
    if not path.exists():
        return [f"no golden report {path.name}: run pytest -k golden --update-golden and review the new file"]
    return differences(json.loads(path.read_text(encoding="utf-8")), now)
