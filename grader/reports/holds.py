"""What a hold shows of a report, for every route that hands one back (the batch's pages,
`grader release`, Gradescope's results.json): the one rule of what a hold covers,
`on_private_half(check)`, and the public half's view of a report (`public_view`). When a
hold applies (the release date, kept per class) is classroom/release.py's."""

from __future__ import annotations

import copy
from datetime import datetime, timezone
from typing import Any

from .late import on_score
from .. import scoring
from ..scoring import as_points as _points

# Gradescope's own visibility values that hold a test back until a moment the instructor sets.
GRADESCOPE_HOLDS = {"after_published": "your instructor publishes the grades", "after_due_date": "the assignment's due date"}
HELD_MARK = "Shown on the public half of the test set until"  # every held page says it; a released one never does


def on_private_half(check: dict[str, Any]) -> bool:
    """The one rule for what a hold covers: the check was measured on the private half (its
    `measured` says so and holds the figure measured there). A check that failed before measuring
    anything (no training, settings refused) earns the same on either half: nothing to hold."""
    measured = check.get("measured")
    return isinstance(measured, dict) and measured.get("half") == "private" and measured.get("test_accuracy") is not None


def public_points(check: dict[str, Any]) -> float | None:
    """The points a check would earn on the public half, or None when it does not depend on the half.
    A check measured on the private half without a public-half measure shows 0 until the release:
    nothing of a private result is shown, whatever the check forgot to record."""
    if not on_private_half(check):
        return None
    public = check["measured"].get("public_half")
    if not isinstance(public, dict) or not isinstance(public.get("fraction"), (int, float)):
        return 0
    fraction = public["fraction"]
    return check["max_score"] if fraction >= 1 else _points(check["max_score"] * fraction)


def holds_private(report: dict[str, Any]) -> bool:
    """Whether some check of `report` was measured on the private half (and so has a public-half
    view to show until the release date); a report without one has nothing to hold back."""
    return any(on_private_half(c) for ex in report["exercises"] for c in ex["checks"])


def held_checks(report: dict[str, Any]) -> list[tuple[str, str, float]]:
    """(exercise id, check name, max points) of each check a hold covers in `report`."""
    return [(ex["id"], c["name"], c["max_score"]) for ex in report["exercises"] for c in ex["checks"] if on_private_half(c)]


def public_score(report: dict[str, Any]) -> float:
    """The report's total with every accuracy check measured on the public half."""
    total = 0.0
    for ex in report["exercises"]:
        for check in ex["checks"]:
            points = public_points(check)
            total += check["score"] if points is None else points
    return _points(total)


def public_message(check: dict[str, Any], until: str) -> str:
    public = check["measured"].get("public_half")
    points = public_points(check)
    if not isinstance(public, dict) or not isinstance(public.get("test_accuracy"), (int, float)):
        return (f"{HELD_MARK} {until}: this check was measured on the private half of the test set only, so nothing of its "
                "result is shown before then. Your grade is shown then.")
    return (
        f"{HELD_MARK} {until}: test accuracy {public['test_accuracy']:.2%} on the public half "
        f"(bar {public['threshold']:.2%}; none at {public['threshold'] - public['band']:.2%} or below), "
        f"which earns {points:g} of this check's {check['max_score']} points"
        + (f", as it counts only for a train() that learned the task drawn for this submission, and yours did not ({public['not_credited']})"
           if public.get("not_credited") else "")
        + ". Your grade measures the same training on the private half, images your own runs never showed you; it is shown then."
    )


def public_view(report: dict[str, Any], release: datetime) -> dict[str, Any]:
    """The report as students may see it before `release`: every accuracy check measured on the
    public half (accuracy, bar, points, message), the totals added up again, and nothing that
    tells the private half's accuracy (its confusion matrix and mistakes are left out)."""
    view = copy.deepcopy(report)
    if not holds_private(view):
        return view  # no accuracy measured on the private half: nothing to hold back
    until = release.strftime("%Y-%m-%d %H:%M %Z").strip()
    for ex in view["exercises"]:
        for check in ex["checks"]:
            points = public_points(check)
            if points is None:
                continue
            public = check["measured"].get("public_half")
            check["score"] = points
            check["status"] = "passed" if points == check["max_score"] else "failed"
            check["message"] = public_message(check, until)
            check.pop("cause", None)  # a private result's diagnosis may quote it
            if not isinstance(public, dict) or not isinstance(public.get("test_accuracy"), (int, float)):
                check.pop("measured", None)  # no public measure: nothing of the private one either
                check.pop("training", None)
                continue
            check["measured"] = {
                **{k: v for k, v in check["measured"].items() if k != "public_half"},
                "half": "public",
                "test_accuracy": public["test_accuracy"],
                "threshold": public["threshold"],
                "band": public["band"],
                "margin": round(public["test_accuracy"] - public["threshold"], 6),
            }
            if isinstance(check.get("training"), dict):
                check["training"] = {k: v for k, v in check["training"].items() if k not in ("confusion", "misclassified")}
        ex["score"] = scoring.total(c["score"] for c in ex["checks"])
        ex["status"] = scoring.exercise_status(c["status"] for c in ex["checks"])  # a not-started exercise holds nothing, so stays so
    view["score"] = _points(sum(ex["score"] for ex in view["exercises"]))
    if isinstance(view.get("late"), dict):  # the penalty's points, said on the private score, would tell it
        view["late"] = on_score(view["late"], view["score"])
    view["test_half"] = "public"
    view["held_until"] = release.astimezone(timezone.utc).isoformat()
    return view
