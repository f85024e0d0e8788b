"""The course's JSON report in the formats other systems read.

- Gradescope's `results.json` (https://gradescope-autograders.readthedocs.io/en/latest/specs/):
  one test per check with `score`, `max_score`, `status`, `output`, `visibility`,
  and the total `score` and `execution_time` at the top.
- JUnit XML, the format CI systems (GitLab, Jenkins, GitHub Actions reporters)
  read: one <testsuite> per exercise, one <testcase> per check; points are
  kept in each suite's <properties> and in the failure text.
- A Markdown feedback page per submission, for people (its plots of the
  grader's training are drawn by grader/reports/figures.py), and the same page as
  standalone HTML, its figures embedded, for a student's browser.
- GitHub Classroom's runner result: what its `autograding-grading-reporter`
  action reads from each grading step (platforms/README.md), one test per check
  with its points, so an exercise earns partial credit.

Each function takes the dict that `report.build_report` makes, so every
format says the same thing.
"""

from __future__ import annotations

import base64
import html
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from .holds import GRADESCOPE_HOLDS, HELD_MARK, on_private_half, public_message, public_points, public_score
from .late import feedback_lines, feedback_text
from .written import summary as written_summary
from .report import cause_heading, exercise_cause, for_students, measured_line, shown_messages

# Characters XML 1.0 cannot hold at all, not even escaped.
_NOT_XML = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def gradescope_results(report: dict[str, Any], private_visibility: str | None = None) -> dict[str, Any]:
    """Gradescope's results.json. `private_visibility` (after_published or after_due_date, from
    build_zip.py --private-visibility) holds back each accuracy check measured on the private
    half until that moment, and shows students instead a visible test of 0 points with its
    public-half score (grader/classroom/release.py); the grade (`score`) is the private one either way.
    Written from `for_students(report)`: no folder of the grading machine reaches the student."""
    report = for_students(report)
    hold = private_visibility if private_visibility in GRADESCOPE_HOLDS and report.get("test_half") == "private" else None
    tests = []
    for ex in report["exercises"]:
        said = _said_once(ex)  # one cause said once, in the exercise's first test; the others point to it
        for i, check in enumerate(ex["checks"], start=1):
            held_back = hold and on_private_half(check)  # the one rule of what a hold covers (release.py)
            tests.append(
                {
                    "name": f"{ex['id']} · {check['name']}" + (" (private half: your grade)" if held_back else ""),
                    "number": f"{ex['lesson']}.{i}",
                    "score": check["score"],
                    "max_score": check["max_score"],
                    "status": "passed" if check["status"] == "passed" else "failed",
                    "output": "\n".join(filter(None, [said[check["name"]] or "passed", _measured(check)])),
                    "visibility": hold if held_back else "visible",
                }
            )
            if held_back:  # what the student sees meanwhile: worth 0 points here, so the totals stay the private grade's
                tests.append(
                    {
                        "name": f"{ex['id']} · {check['name']} (public half: shown until {GRADESCOPE_HOLDS[hold]})",
                        "number": f"{ex['lesson']}.{i}p",
                        "score": 0,
                        "max_score": 0,
                        "status": "passed" if public_points(check) == check["max_score"] else "failed",
                        "output": public_message(check, GRADESCOPE_HOLDS[hold]),
                        "visibility": "visible",
                        "extra_data": {"public_half_points": public_points(check)},
                    }
                )
    data = report.get("data") or {}
    held_note = (
        f"Until {GRADESCOPE_HOLDS[hold]}, you see model accuracy on the public half of the test set: your score there is "
        f"{public_score(report):g}/{report['max_score']:g}. Your grade measures the same trainings on the private half, "
        "images your own runs never showed you, and is shown then.\n"
        if hold
        else ""
    )
    variant_notes = "".join(f"{ex['id']}: {variant_line(ex)}\n" for ex in report["exercises"] if variant_line(ex))
    variant_notes += "".join(f"{ex['id']}: {written_summary(ex['written'])}.\n" for ex in report["exercises"] if ex.get("written"))
    return {
        "score": report["score"],
        "execution_time": round(report["seconds"], 2),
        "output": f"{held_note}{variant_notes}Data: {data.get('description', 'not loaded')}\nTest half: {report['test_half']} (model accuracy is measured on it)\n"
        f"Grader {report['grader_version']}\nIsolation: {(report.get('environment') or {}).get('isolation', 'unknown')}",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        # A safety clock stopped some checks: autograde.py reads this to keep the others (grader/classroom/child_grader.py's rule).
        **({"extra_data": {"retry": True}} if report.get("retry") else {}),
        "tests": tests,
    }


# Each message travels base64-encoded in an environment variable of the
# reporter's step, and Linux refuses a single variable over 128 KiB.
_CLASSROOM_MESSAGE_CHARS = 2000


def _said_once(ex: dict[str, Any]) -> dict[str, str]:
    """Each check's text for a format that has no place above an exercise's checks (Gradescope,
    Classroom, JUnit): shown_messages', with the exercise's one cause (its file could not be imported,
    or a by-hand function used a library) said in full in its first test, in place of that test's pointer."""
    said = shown_messages(ex)
    kind, cause = exercise_cause(ex)
    if kind and ex["checks"]:
        first = ex["checks"][0]
        if first.get("not_checked"):  # the cause takes the place of its pointer
            said[first["name"]] = f"{cause_heading(ex)}\n{cause['message']}"
        else:  # it passed or was not graded: its own text stays, below the cause
            said[first["name"]] = f"{cause_heading(ex)}\n{cause['message']}\n\n{said[first['name']] or first['status']}"
    return said


def _measured(check: dict[str, Any]) -> str | None:
    """What the grader's training measured, in one line; nothing for a check that was not checked."""
    return measured_line(check["measured"]) if check.get("measured") and not check.get("not_checked") else None


def classroom_results(report: dict[str, Any]) -> dict[str, Any]:
    """GitHub Classroom's runner result for the exercises of `report`.

    The layout is the one GitHub's own runners write (classroom-resources/
    autograding-command-grader and autograding-python-grader): `max_score` for
    the runner and `tests` with a `score` each. The grading reporter adds up
    every runner's `max_score` and every test's `score` into the points
    Classroom records, and fails the job when a runner's `status` is "fail".
    """
    tests = []
    for ex in report["exercises"]:
        said = _said_once(ex)
        for check in ex["checks"]:
            message = "\n".join(filter(None, [said[check["name"]], _measured(check)]))
            if len(message) > _CLASSROOM_MESSAGE_CHARS:
                message = message[: _CLASSROOM_MESSAGE_CHARS - 1] + "…"
            tests.append(
                {
                    "name": f"{ex['id']} · {check['name']} ({check['score']}/{check['max_score']})",
                    "status": "pass" if check["status"] == "passed" else "fail",
                    "score": check["score"],
                    "message": message,
                    "test_code": f"grader {ex['id']}",
                    "filename": "",
                    "line_no": 0,
                    "duration": round(check["seconds"], 3),
                }
            )
    return {
        "version": 1,
        "status": "pass" if report["score"] == report["max_score"] else "fail",
        "max_score": report["max_score"],
        "tests": tests,
    }


def junit_xml(report: dict[str, Any]) -> str:
    root = ET.Element("testsuites", name=report["course"])
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for ex in report["exercises"]:
        checks = ex["checks"]
        counts = {
            "tests": len(checks),
            "failures": sum(c["status"] in ("failed", "not started") for c in checks),
            "errors": sum(c["status"] == "error" for c in checks),
        }
        suite = ET.SubElement(
            root,
            "testsuite",
            name=f"{ex['id']} · {ex['title']}",
            tests=str(counts["tests"]),
            failures=str(counts["failures"]),
            errors=str(counts["errors"]),
            skipped="0",
            time=f"{sum(c['seconds'] for c in checks):.3f}",
            timestamp=report["started_at"][:19],  # JUnit's schema wants local time without a zone
        )
        properties = ET.SubElement(suite, "properties")
        for name, value in (("score", ex["score"]), ("max_score", ex["max_score"]), ("data_sha256", (report.get("data") or {}).get("sha256", ""))):
            ET.SubElement(properties, "property", name=name, value=str(value))
        said = _said_once(ex) if exercise_cause(ex)[0] else {}  # the one cause in the first case, pointers in the others
        for check in checks:
            case = ET.SubElement(
                suite, "testcase", name=check["name"], classname=ex["id"], time=f"{check['seconds']:.3f}"
            )
            if check["status"] != "passed":
                tag = "error" if check["status"] == "error" else "failure"
                message = said[check["name"]] if check.get("not_checked") else check["message"]
                # The line that says what went wrong, not the "Called ..." line before it.
                lines = [line for line in message.splitlines() if not line.startswith("Called ")]
                first_line = lines[0] if lines else check["status"]
                element = ET.SubElement(case, tag, message=_xml_text(first_line), type=check["status"])
                element.text = _xml_text(f"{check['score']}/{check['max_score']} points\n{message}")
        for key in totals:
            totals[key] += counts[key]
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", f"{report['seconds']:.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _upload_lines(report: dict[str, Any]) -> list[str]:
    """What the upload step (grader/isolation/uploads.py) said: why nothing or not everything was graded, each correction."""
    upload = report.get("upload") or {}
    if upload.get("status") in ("no exercise file", "over the size limit"):
        return [f"{upload['status']}. {upload.get('message', '')}"]
    return [str(note) for note in upload.get("notes", [])]


def _after_penalty(report: dict[str, Any]) -> str:
    """The score a late student is given, beside the raw one at the top of their page (deadlines.py's `late`)."""
    late = report.get("late") or {}
    if not late.get("penalty_points"):
        return ""
    return f"final score after the late penalty: {late['final_score']}/{report['max_score']}"


def variant_line(ex: dict[str, Any]) -> str:
    """What a page says of the variant an exercise was graded on (grader/variants.py), or ""."""
    variant = ex.get("variant")
    if not isinstance(variant, dict):
        return ""
    return f"Graded on your variant {variant.get('key')!s}: {variant.get('says')!s}."


def markdown_feedback(report: dict[str, Any], title: str = "Feedback", figures: dict[str, list[dict[str, str]]] | None = None) -> str:
    """The page for people. `figures` (grader/reports/figures.py, which draws them) gives per
    exercise the plots of the grader's training: {"path", "alt", "caption"} each,
    or {"note"} for one that could not be drawn."""
    marks = {"passed": "✅", "failed": "❌", "not started": "⬜", "error": "⚠️"}
    data = report.get("data") or {}
    lines = [
        f"# {title}",
        "",
        f"**Score: {report['score']}/{report['max_score']} points**" + (f" · **{_after_penalty(report)}**" if _after_penalty(report) else ""),
        "",
        f"Graded {report['started_at']} by grader {report['grader_version']} on {data.get('description', 'no data')}.",
    ]
    if report.get("earlier_grades"):
        lines += ["", f"This grade replaces {_earlier(report['earlier_grades'])}."]
    lines += [f"\n**Your upload:** {line}" for line in _upload_lines(report)]
    if report.get("late"):  # the late section (classroom/deadlines.py stamps it; reports/late.py says it): the penalty on top of the raw score, and why
        lines += feedback_lines(report)
    if report.get("held_until"):  # grader/classroom/reports/holds.py's public_view: the private grade waits for its release
        lines += ["", "**{}** {}".format(*_held_note(report))]
    for ex in report["exercises"]:
        lines += ["", f"## {ex['id']} · {ex['title']} (lesson {ex['lesson']}): {ex['score']}/{ex['max_score']}", ""]
        if variant_line(ex):
            lines += [variant_line(ex), ""]
        kind, cause = exercise_cause(ex)
        if kind:  # the one cause of every not-checked check below, said once
            fence = _fence(cause["message"])
            lines += [f"**{cause_heading(ex)}**", "", f"{fence}text", cause["message"], fence, ""]
        lines += ["| | check | points |", "|---|---|---|"]
        lines += [f"| {marks[c['status']]} | `{c['name']}` | {c['score']}/{c['max_score']} |" for c in ex["checks"]]
        said = shown_messages(ex)  # a message repeated by later checks (one syntax error) is written out once
        for check in ex["checks"]:
            if _measured(check):
                lines += ["", f"`{check['name']}`: {_measured(check)}."]
            if check.get("not_checked"):  # one line: the grader's own words, pointing to the cause above
                lines += ["", f"### `{check['name']}`: {check['status']}", "", said[check["name"]]]
            elif check["status"] != "passed":
                fence = _fence(said[check["name"]])
                lines += ["", f"### `{check['name']}`: {check['status']}", "", f"{fence}text", said[check["name"]], fence]
            if check.get("note"):  # student text the grader does not judge, shown for a person to read
                fence = _fence(check["note"])
                lines += ["", f"**For the instructor** (`{check['name']}`, not graded):", "", f"{fence}text", check["note"], fence]
        if ex.get("written"):  # answers a person grades: shown as handed in, never scored here
            lines += ["", f"### Your written answers ({ex['written']['points']} points, graded by your instructor)"]
            lines += [f"\n*{ex['written']['note']}*"] if ex["written"].get("note") else []
            for question in ex["written"]["questions"]:
                fence = _fence(question["answer"])
                lines += ["", f"**{question['ask']}** ({question['points']} points)", ""]
                lines += [f"{fence}text", question["answer"], fence] if question["answer"] else ["*Not answered.*"]
        items = (figures or {}).get(ex["id"])
        if items:
            lines += ["", "### What the grader's training shows"]
            for item in items:
                if "path" in item:
                    lines += ["", f"![{item['alt']}]({item['path']})", "", item["caption"]]
                else:
                    lines += ["", f"*{item['note']}*"]
    return "\n".join(lines) + "\n"


def _earlier(grades: list[dict[str, Any]]) -> str:
    """The grades a report replaced, in words: "12/15 (graded 2026-…; then: a new submission)"."""
    return "; ".join(f"{g.get('score')}/{g.get('max_score')} (graded {g.get('graded_at') or '?'}, replaced after: {g.get('why') or '?'})" for g in grades)


def _fence(text: str) -> str:
    """A code fence longer than any run of backticks in `text`, so student text cannot close it."""
    longest = run = 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    return "`" * max(3, longest + 1)


# Plain text marks that every font has (an emoji font is not everywhere); the status word stands beside them.
_HTML_MARKS = {"passed": "✓", "failed": "✗", "not started": "–", "error": "!"}
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_FEEDBACK_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em;line-height:1.45;color:#222}"
    "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}"
    "td.n{text-align:right}pre{background:#f6f6f6;padding:.6em;white-space:pre-wrap;overflow-wrap:anywhere}"
    "img{max-width:100%;height:auto}figure{margin:1em 0}figcaption{font-size:.92em;color:#444}"
    ".passed{color:#176f2c}.failed,.error{color:#b00020}.score{font-size:1.3em}.note{font-style:italic}"
    # Read by screen readers, not shown: the header of the column of marks (an empty <th> names nothing).
    ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}"
)


def _h(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _caption_html(caption: str) -> str:
    """A figure's caption (grader/reports/figures.py writes **bold** in it) as HTML, escaped first."""
    return _BOLD.sub(r"<strong>\1</strong>", _h(caption))


def _image_src(path: str, base: Path | None) -> str:
    """A figure's PNG as a data: URI when it can be read from `base` (the page
    then stands alone: mailed, uploaded, opened anywhere), else its relative link."""
    if base is not None:
        from urllib.parse import unquote

        try:
            data = (Path(base) / unquote(path)).read_bytes()
        except OSError:
            data = b""
        if data.startswith(b"\x89PNG"):
            return "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    return path


def _held_note(report: dict[str, Any]) -> tuple[str, str]:
    """What a held page says at its top (release.public_view set `held_until`): its lead, then the rest."""
    return (
        f"{HELD_MARK} {report['held_until'][:16].replace('T', ' ')} UTC:",
        "this score measures your models' accuracy on the public half of the test set. Your grade measures the same "
        "trainings on the private half, images your own runs never showed you; it is shown here then.",
    )


def html_feedback(
    report: dict[str, Any],
    title: str = "Feedback",
    figures: dict[str, list[dict[str, str]]] | None = None,
    base: Path | None = None,
) -> str:
    """The feedback page as one standalone HTML file: everything markdown_feedback
    says, every student text escaped, no script, no network. `figures` as for
    markdown_feedback; with `base` (the folder their relative paths start from)
    each PNG is embedded in the page, so it needs nothing beside it."""
    data = report.get("data") or {}
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_h(title)}</title><style>{_FEEDBACK_CSS}</style></head><body><main>",
        f"<h1>{_h(title)}</h1>",
        f'<p class="score"><strong>Score: {_h(report["score"])}/{_h(report["max_score"])} points</strong>'
        + (f" · <strong>{_h(_after_penalty(report))}</strong>" if _after_penalty(report) else "") + "</p>",
        f"<p>Graded {_h(report['started_at'])} by grader {_h(report['grader_version'])} on {_h(data.get('description', 'no data'))}"
        + (f"; model accuracy measured on the {_h(report['test_half'])} half of the test set" if report.get("test_half") else "")
        + ".</p>",
    ]
    if report.get("late"):  # grader/classroom/deadlines.py: the same words as the Markdown page's
        parts.append('<p class="late"><strong>{}</strong> {}</p>'.format(*map(_h, feedback_text(report))))
    elif report.get("submitted_at"):
        parts.append(f"<p>Submission: files last changed {_h(report['submitted_at'])}.</p>")
    if report.get("earlier_grades"):
        parts.append(f'<p class="earlier">This grade replaces {_h(_earlier(report["earlier_grades"]))}.</p>')
    if report.get("held_until"):  # the same note as the Markdown page's: both pages are handed to students
        parts.append('<p class="held"><strong>{}</strong> {}</p>'.format(*map(_h, _held_note(report))))
    parts.extend(f'<p class="upload"><strong>Your upload:</strong> {_h(line)}</p>' for line in _upload_lines(report))
    if report.get("retry"):
        parts.append('<p class="error">Some checks were not graded (the grader failed or the machine was overloaded); they will be graded again.</p>')
    for ex in report["exercises"]:
        parts.append(
            f'<section id="{_h(ex["id"])}"><h2>{_h(ex["id"])} · {_h(ex["title"])} (lesson {_h(ex["lesson"])}): '
            f"{_h(ex['score'])}/{_h(ex['max_score'])}</h2>"
        )
        if variant_line(ex):
            parts.append(f'<p class="variant">{_h(variant_line(ex))}</p>')
        kind, cause = exercise_cause(ex)
        if kind:  # the one cause of every not-checked check below, said once
            parts.append(f'<p class="failed"><strong>{_h(cause_heading(ex))}</strong></p><pre>{_h(cause["message"])}</pre>')
        parts.append('<table><tr><th><span class="sr">mark</span></th><th>check</th><th>status</th><th>points</th></tr>')
        parts.extend(
            f'<tr><td class="{_h(c["status"]).replace(" ", "-")}">{_HTML_MARKS.get(c["status"], "")}</td><td><code>{_h(c["name"])}</code></td>'
            f'<td class="{_h(c["status"]).replace(" ", "-")}">{_h(c["status"])}</td><td class="n">{_h(c["score"])}/{_h(c["max_score"])}</td></tr>'
            for c in ex["checks"]
        )
        parts.append("</table>")
        for check in ex["checks"]:
            if _measured(check):
                parts.append(f"<p><code>{_h(check['name'])}</code>: {_h(_measured(check))}.</p>")
            if check["status"] != "passed":
                parts.append(f'<h3><code>{_h(check["name"])}</code>: <span class="{_h(check["status"]).replace(" ", "-")}">{_h(check["status"])}</span></h3>')
                parts.append(f"<p>{_h(check['message'])}</p>" if check.get("not_checked") else f"<pre>{_h(check['message'])}</pre>")
            if check.get("note"):  # student text the grader does not judge, shown for a person to read
                parts.append(f"<p><strong>For the instructor</strong> (<code>{_h(check['name'])}</code>, not graded):</p><pre>{_h(check['note'])}</pre>")
        if ex.get("written"):  # answers a person grades: shown as handed in, never scored here
            parts.append(f"<h3>Your written answers ({_h(ex['written']['points'])} points, graded by your instructor)</h3>")
            if ex["written"].get("note"):
                parts.append(f'<p class="note">{_h(ex["written"]["note"])}</p>')
            for question in ex["written"]["questions"]:
                parts.append(f"<p><strong>{_h(question['ask'])}</strong> ({_h(question['points'])} points)</p>")
                parts.append(f"<pre>{_h(question['answer'])}</pre>" if question["answer"] else "<p><em>Not answered.</em></p>")
        items = (figures or {}).get(ex["id"])
        if items:
            parts.append("<h3>What the grader's training shows</h3>")
            for item in items:
                if "path" in item:
                    parts.append(
                        f'<figure><img src="{_h(_image_src(item["path"], base))}" alt="{_h(item["alt"])}">'
                        f"<figcaption>{_caption_html(item['caption'])}</figcaption></figure>"
                    )
                else:
                    parts.append(f'<p class="note">{_h(item["note"])}</p>')
        parts.append("</section>")
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"
