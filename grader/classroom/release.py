"""What students see of an instructor's grade before its release date.

An instructor grades model accuracy on the private half of the test set (the
images students never tune against). Until a release date the instructor sets,
students may be shown only the public half's score: the same training, the
same checks, with each accuracy check measured on the public half
(grader/training/model_checks.py stores that measure beside the private one, as
`measured["public_half"]`). Nothing is graded twice and the grade itself never
changes: the gradebook, class.html and report.json always hold the private
grade; only what is handed to students waits.

- The batch (`grader --batch ... --private-release DATE`): each student's
  feedback page is written from `public_view(report, DATE)` until DATE, from
  the report itself afterwards; a run after DATE rewrites the held pages.
- Gradescope (`build_zip.py --private-visibility after_published`): Gradescope
  itself holds the private tests back (results.json's per-test `visibility`,
  Gradescope's autograder spec) and a visible 0-point test per accuracy check
  shows its public-half score (grader/reports/formats.py, gradescope_results).

What a hold covers is one rule, `on_private_half(check)`: a check whose
`measured` says `half: private` and holds a figure measured there (its
`test_accuracy`), whichever exercise measured it (the Keras trainings of
grader/training/model_checks.py, ex02b's training by hand). Every route asks
it; none keeps a list of exercises. Such a check shows its `public_half`
measure until the date; one that recorded none (a check that forgot to) shows
nothing of its result, never the private one (issue 40 item 3).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from ..reports.holds import (  # noqa: F401 - the views, one floor down, named here for the class's modules
    GRADESCOPE_HOLDS, HELD_MARK, held_checks, holds_private, on_private_half, public_message, public_points, public_score, public_view,
)

SETTING_FILE = "private-release.json"  # in a batch's --out: the release date, kept for later runs


def parse_release(text: str) -> datetime | None:
    """--private-release's value: an ISO date or date and time (UTC unless it says otherwise), or
    `none` to show the private grade at once. Raises ValueError with what is expected."""
    if text.strip().lower() in ("none", "now", ""):
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"--private-release takes a date like 2026-12-15 or 2026-12-15T09:00+01:00 (or none), not {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def release_setting(out: Path, given: str | None) -> datetime | None:
    """The release date for the batch writing into `out`: the one given (kept in `out` for the
    next runs, so a run without the option never shows a held grade early), else the kept one."""
    path = Path(out) / SETTING_FILE
    if given is not None:
        moment = parse_release(given)
        Path(out).mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"private_release": moment.isoformat() if moment else None}) + "\n", encoding="utf-8")
        return moment
    try:
        kept = json.loads(path.read_text(encoding="utf-8")).get("private_release")
    except (OSError, ValueError, AttributeError):
        return None
    return parse_release(kept) if isinstance(kept, str) else None


def held(release: datetime | None, now: datetime | None = None) -> bool:
    """Whether students still see the public half only."""
    return release is not None and (now or datetime.now(timezone.utc)) < release
