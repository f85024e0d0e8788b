"""A late section's views, for every page that shows a report: the score after the penalty
(`final_score`), the same penalty on another raw score (`on_score`, a held page's public view),
and what a feedback page says about lateness (`feedback_text`, `feedback_lines`). The policy
itself, and the `late` section it stamps on a report, are classroom/deadlines.py's."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..scoring import as_points as _number


def on_score(late: dict[str, Any], raw: float) -> dict[str, Any]:
    """The same `late` section applied to another raw score (a held page's public view): the same
    percentage, so the points said never tell the score it was computed from."""
    points = _number(raw * late.get("penalty_percent", 0) / 100)
    return {**late, "raw_score": raw, "penalty_points": points, "final_score": _number(raw - points)}


def final_score(report: dict[str, Any]) -> float:
    """The score that goes to the gradebook's final column and to Canvas: after any late penalty."""
    late = report.get("late")
    return late["final_score"] if late else report["score"]


# How a submission time's source reads to a student (the times file's own words for any other)
SOURCE_SAID = {"canvas-csv": "the time Canvas recorded", "zip-entry-time": "the time Canvas's download was made",
               "file modification time": "your files' modification time"}


def _in_zone_of(when: str | None, due: str) -> str:
    """`when` (ISO 8601) written in the due date's zone, so the two read side by side; as it is where either does not parse."""
    try:
        return datetime.fromisoformat(when).astimezone(datetime.fromisoformat(due).tzinfo).isoformat()
    except (TypeError, ValueError):
        return when or "at an unknown time"


def feedback_text(report: dict[str, Any]) -> tuple[str, str]:
    """What a student's feedback page says about lateness: (its lead, the rest); ("", "") without a due date."""
    late = report.get("late")
    if not late:
        return "", ""
    due = late["extension"]["due"] if late.get("extension") else late["due"]
    source = SOURCE_SAID.get(late["submitted_at_source"], late["submitted_at_source"])
    lead = (f"Due {due}" + (f" (your extension: {late['extension']['said']})" if late.get("extension") else "") + f"; submitted "
            f"{_in_zone_of(late['submitted_at'], due)} ({source}).")
    if late["penalty_points"]:
        return lead, (f"Late penalty: {late['penalty_points']} points ({late['penalty_percent']}%): {late['why']}. "
                      f"Raw score {late['raw_score']}, final score {late['final_score']}/{report['max_score']}.")
    return lead, f"No late penalty: {late['why']}."


def feedback_lines(report: dict[str, Any]) -> list[str]:
    """The Markdown page's lines (formats.markdown_feedback); formats.html_feedback says the same."""
    lead, rest = feedback_text(report)
    return ["", f"**{lead}** {rest}"] if lead else []
