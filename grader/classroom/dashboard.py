"""OUT/class.html: the class at a glance, rebuilt at the end of every batch run.

One static page, opened in a browser from disk (no server, no script, no
network): the score distribution, each check's pass rate, the most common
diagnoses, the accuracy and training time of the model exercises, who is still
`retry` or `error`, the grades a run changed (with the earlier feedback, kept
in OUT/history/), the code-similarity report (similarity.py), and a row per
student linking to their feedback page (feedback.html, figures embedded). The
plots are PNG files in OUT/class_files/, drawn with matplotlib's Agg canvas
(figures.py's helpers). Everything comes from the reports already on disk, so
the page can always be rebuilt from them.
"""

from __future__ import annotations

import html
import statistics
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import quote

from mnist_course.course import Exercise

from . import history
from .deadlines import late_section_html
from ..reports.figures import agg_figure, save_png
from ..reports.report import GRADER_VERSION, exercise_cause, write_text

PAGE = "class.html"
FILES = "class_files"


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _percent(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "–"


def _diagnoses(rows) -> list[tuple[str, int, list[str]]]:
    """(likely cause, students, checks) over every failed check, most students first."""
    students, checks = defaultdict(set), defaultdict(set)
    for student, report, _ in rows:
        for ex in (report or {}).get("exercises", []):
            kind, said = exercise_cause(ex)  # the file could not be imported, or used a library: one diagnosis
            cause = (said or {}).get("cause")
            if cause:
                students[cause].add(student)
                checks[cause].add(f"{ex['id']} (not imported: every check)" if kind == "import_failure" else f"{ex['id']} (a library used by hand)")
            for check in ex.get("checks", []):
                cause = check.get("cause")  # the grader's own field: a student's printed text cannot pose as one
                # A check that waits for another (scoring.depends_on) repeats no diagnosis of its own.
                if cause and check.get("status") in ("failed", "partial") and not (check.get("message") or "").startswith("This check counts once"):
                    students[cause].add(student)
                    checks[cause].add(f"{ex['id']} {check['name']}")
    ranked = sorted(students, key=lambda cause: (-len(students[cause]), cause))
    return [(cause, len(students[cause]), sorted(checks[cause])) for cause in ranked]


def _check_rates(rows, exercises: list[Exercise]) -> list[tuple[str, str, int, int]]:
    """(exercise, check, passed, graded) for every check, in course order."""
    passed, graded = Counter(), Counter()
    for _, report, _ in rows:
        for ex in (report or {}).get("exercises", []):
            for check in ex.get("checks", []):
                graded[ex["id"], check["name"]] += 1
                passed[ex["id"], check["name"]] += check.get("status") == "passed"
    return [(ex.id, name, passed[ex.id, name], graded[ex.id, name]) for ex in exercises for name in ex.checks if graded[ex.id, name]]


def _trainings(rows) -> dict[str, list[dict[str, Any]]]:
    """Per model exercise: the measured accuracy, training seconds and reuse of each student's model."""
    found = defaultdict(list)
    for student, report, _ in rows:
        for ex in (report or {}).get("exercises", []):
            for check in ex.get("checks", []):
                measured = check.get("measured") or {}
                if measured.get("test_accuracy") is not None:
                    found[ex["id"]].append({"student": student, **measured})
    return dict(found)


def _plots(folder: Path, rows, rates, trainings, max_score: int) -> list[tuple[str, str]]:
    """Draw the page's figures; return (file name, alt text) for each."""
    drawn = []
    totals = [report["score"] for _, report, status in rows if report]
    if totals:
        fig = agg_figure(6.4, 2.8)
        ax = fig.add_subplot()
        ax.hist(totals, bins=min(20, max(1, max_score)), range=(0, max_score), color="tab:blue", edgecolor="white")
        ax.set(xlabel=f"total score (of {max_score})", ylabel="students", title="Score distribution")
        ax.yaxis.get_major_locator().set_params(integer=True)
        save_png(fig, folder / "scores.png")
        drawn.append(("scores.png", f"Histogram of the total scores of {len(totals)} graded students, of {max_score} points: "
                                    f"median {statistics.median(totals):g}, lowest {min(totals)}, highest {max(totals)}."))
    if rates:
        fig = agg_figure(6.4, max(2.0, 0.22 * len(rates) + 0.8))
        ax = fig.add_subplot()
        labels = [f"{ex} {name}" for ex, name, _, _ in rates]
        ax.barh(range(len(rates)), [p / g for _, _, p, g in rates], color="tab:green")
        ax.set_yticks(range(len(rates)), labels, fontsize=7)
        ax.invert_yaxis()
        ax.set(xlim=(0, 1), xlabel="share of graded students who pass", title="Pass rate of each check")
        save_png(fig, folder / "checks.png")
        low, high = min(rates, key=lambda r: r[2] / r[3]), max(rates, key=lambda r: r[2] / r[3])
        drawn.append(("checks.png", f"Bar chart of the pass rate of each of {len(rates)} checks, from {low[0]} {low[1]} at "
                                    f"{_percent(low[2], low[3])} to {high[0]} {high[1]} at {_percent(high[2], high[3])}; "
                                    "the table Checks below lists every rate."))
    for exercise, found in sorted(trainings.items()):
        seconds = [t.get("training_seconds") or 0 for t in found]
        fig = agg_figure(5.0, 3.0)
        ax = fig.add_subplot()
        ax.scatter(seconds, [100 * t["test_accuracy"] for t in found], color="tab:purple")
        ax.set(xlabel="training seconds", ylabel="test accuracy (%)", title=f"{exercise}: each student's model")
        save_png(fig, folder / f"{exercise}_models.png")
        accuracy = [t["test_accuracy"] for t in found]
        drawn.append((f"{exercise}_models.png", f"Scatter plot of {exercise}'s {len(found)} models, test accuracy against training time: "
                                                f"accuracy {min(accuracy):.1%} to {max(accuracy):.1%}, training {min(seconds):.0f} to {max(seconds):.0f} s."))
    return drawn


def _similarity_section(similar: dict[str, Any] | None) -> list[str]:
    parts = ['<h2 id="similarity">Similar submissions</h2>']
    if similar is None:
        return parts + ["<p>No similarity report on this run: it was interrupted, or the report failed (see the batch's output).</p>"]
    groups = similar.get("identical") or []
    if groups:
        parts.append("<p>Byte-identical submissions, graded once (each student shows the same score):</p><ul>")
        parts.extend(f"<li>{_e(', '.join(group))}</li>" for group in groups)
        parts.append("</ul>")
    else:
        parts.append("<p>No two submissions are byte-identical (untouched stubs aside).</p>")
    if not similar.get("available"):
        parts.append(f'<p class="bad">{_e(similar.get("note", "the similarity report is not available"))}.</p>')
        return parts
    clusters = similar.get("clusters") or []
    threshold = similar.get("threshold", 0)
    if not clusters:
        parts.append(f"<p>No two students share {threshold:.0%} or more of an exercise's code, the stub's own code set aside "
                     f"({_e(similar.get('library'))}).</p>")
        return parts
    parts.append(
        f"<p>{len(clusters)} groups of students share an exercise's code: each is linked by pairs sharing {threshold:.0%} or more "
        f"once the stub's own code is set aside, or by the same file ({_e(similar.get('library'))}; names and literals abstracted). "
        "One page per group. A reason to look, never a verdict; a group matching the course's own code is a leak to investigate.</p>"
        '<table class="similarity"><tr><th>exercise</th><th>students</th><th>share of code</th><th>matches</th><th>identical file</th><th>side by side</th></tr>'
    )
    for cluster in clusters:
        people = cluster["students"]
        names = f"{', '.join(people[:-1])} and {people[-1]}"
        low, high = cluster["shares"]
        shares = f"{low:.0%} / {high:.0%}" if cluster["pairs"] <= 1 else f"{low:.0%} to {high:.0%} ({cluster['pairs']} pairs compared)"
        parts.append(
            f'<tr><td>{_e(cluster["exercise"])}</td><td>{_e(names)}</td><td class="n">{shares}</td>'
            f'<td class="bad">{_e("; ".join(cluster.get("matches") or []))}</td>'
            f'<td>{"yes" if cluster.get("identical_file") else ""}</td><td><a href="{quote(cluster["page"])}">compare</a></td></tr>'
        )
    parts.append("</table>")
    for exercise, more in sorted((similar.get("not_compared") or {}).items()):
        parts.append(f'<p class="bad">{exercise}: {more} more pairs looked alike at first sight and were not compared in full; '
                     "a higher <code>--similarity-threshold</code> lists fewer, closer pairs.</p>")
    return parts


def _variants_section(rows, exercises: list[Exercise]) -> list[str]:
    """Per exercise with variants, how each variant's students did: a variant harder than its siblings shows here."""
    varied = [ex for ex in exercises if ex.variants]
    if not varied:
        return []
    parts = [
        '<h2 id="variants">Variants</h2><p>Each student is graded on the variant drawn from their id '
        "(<code>grader variants --class SUBMISSIONS</code> lists who has which).</p>"
        "<table><tr><th>exercise</th><th>variant</th><th>students graded</th><th>median score</th><th>passed</th></tr>"
    ]
    for ex in varied:
        for variant in ex.variants:
            graded = [e for _, report, _ in rows if report for e in report["exercises"]
                      if e["id"] == ex.id and (e.get("variant") or {}).get("key") == variant.key]
            median = f"{statistics.median(e['score'] for e in graded):g} of {ex.max_score}" if graded else ""
            passed = sum(e["status"] == "passed" for e in graded)
            parts.append(f'<tr><td>{_e(ex.id)}</td><td>{_e(variant.key)}: {_e(variant.says)}</td><td class="n">{len(graded)}</td>'
                         f'<td class="n">{median}</td><td class="n">{passed}</td></tr>')
    parts.append("</table>")
    return parts


def _history_section(out: Path) -> list[str]:
    changes = history.changes(out)
    if not changes:
        return []
    parts = [
        '<h2 id="history">Changed grades</h2><p>Every grade a run replaced or withdrew; the earlier report and feedback are kept in '
        "<code>history/</code>.</p><table><tr><th>student</th><th>earlier score</th><th>graded</th><th>now</th><th>why</th><th>earlier feedback</th></tr>"
    ]
    for change in changes:
        link = f'<a href="{quote(change["page"])}">earlier feedback</a>' if change.get("page") else ""
        now = "withdrawn" if change.get("new_score") is None else f"{change['new_score']}/{change.get('max_score')}"
        parts.append(
            f"<tr><td>{_e(change['student'])}</td><td class=\"n\">{_e(change.get('old_score'))}/{_e(change.get('max_score'))}</td>"
            f"<td>{_e(change.get('old_graded_at') or '')}</td><td class=\"n\">{_e(now)}</td><td>{_e(change.get('why', ''))}</td><td>{link}</td></tr>"
        )
    parts.append("</table>")
    return parts


def _uploads(rows) -> list[str]:
    """At the top: the uploads the grader could not grade in full (isolation/uploads.py's statuses), counted and listed."""
    named = [(student, report["upload"]) for student, report, _ in rows if report and (report.get("upload") or {}).get("status") in ("no exercise file", "over the size limit")]
    corrected = [student for student, report, _ in rows if report and (report.get("upload") or {}).get("status") == "corrected"]
    parts = []
    if named:
        counts = Counter(upload["status"] for _, upload in named)
        parts.append(f'<p class="bad"><strong>{len(named)} uploads could not be graded in full</strong>: '
                     + ", ".join(f"{n} {_e(status)}" for status, n in sorted(counts.items())) + " (each scored 0 where nothing could be graded).</p>")
        parts.append("<table><tr><th>student</th><th>upload</th><th>what the student is told</th></tr>")
        parts.extend(f'<tr><td>{_e(s)}</td><td class="bad">{_e(u["status"])}</td><td>{_e(u.get("message", ""))}</td></tr>' for s, u in named)
        parts.append("</table>")
    if corrected:
        parts.append(f"<p>{len(corrected)} uploads graded after a correction (a zip, a folder, a notebook, the case of a name; said in each feedback): {_e(', '.join(corrected))}.</p>")
    return parts


def class_page(
    out: Path, rows: list[tuple[str, dict[str, Any] | None, str]], exercises: list[Exercise], similar: dict[str, Any] | None = None
) -> str:
    """The HTML of OUT/class.html (its figures written to OUT/class_files/); `similar`
    is what similarity.class_similarity found."""
    max_score = sum(ex.max_score for ex in exercises)
    rates, diagnoses, trainings = _check_rates(rows, exercises), _diagnoses(rows), _trainings(rows)
    statuses = Counter(status.split(":", 1)[0] for _, _, status in rows)
    try:
        figures = _plots(out / FILES, rows, rates, trainings, max_score)
        figure_note = ""
    except Exception as exc:  # noqa: BLE001 - the plots are extra; the tables still stand
        figures, figure_note = [], f"<p>The plots could not be drawn ({_e(type(exc).__name__)}).</p>"
    graded = [report for _, report, _ in rows if report]
    half = next((r.get("test_half") for r in graded if r.get("test_half")), "")
    data = next(((r.get("data") or {}).get("sha256", "") for r in graded), "")

    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>Class results</title>',
        "<style>body{font-family:sans-serif;max-width:72em;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}"
        "td.n{text-align:right}img{max-width:100%}.bad{color:#b00}</style></head><body><main>",
        "<h1>Class results</h1>",
        f"<p>{len(rows)} students: {statuses.get('graded', 0)} graded, {statuses.get('retry', 0)} to grade again (retry), "
        f"{statuses.get('error', 0)} that could not be graded (error)"
        + (f", {statuses['graded earlier']} graded by an earlier run and not in this run's submissions" if statuses.get("graded earlier") else "")
        + f". Exercises: {_e(', '.join(ex.id for ex in exercises))} "
        f"({max_score} points). Grader {_e(GRADER_VERSION)}; data sha256 {_e(str(data)[:12])}…; accuracy on the {_e(half or '?')} half of the test set.</p>",
    ]
    parts.extend(_uploads(rows))
    waiting = sum(1 for _, report, _ in rows if report for ex in report["exercises"] for q in (ex.get("written") or {}).get("questions", [])
                  if q["status"] == "answered")
    if any(ex.questions for ex in exercises):
        parts.append(f"<p>Written questions: {waiting} answers to grade by hand, in <code>answers.csv</code> (rubrics: docs/RUBRICS.md); "
                     "their points are not in the scores below.</p>")
    if graded:
        totals = [r["score"] for r in graded]
        parts.append(f"<p>Total score: median {statistics.median(totals):g}, lowest {min(totals)}, highest {max(totals)} of {max_score}.</p>")
    parts.append(figure_note)
    parts.extend(f'<figure><img src="{FILES}/{quote(name)}" alt="{_e(alt)}"></figure>' for name, alt in figures)

    parts.append("<h2>Still to grade</h2>")
    waiting = [(student, status) for student, _, status in rows if not status.startswith("graded")]
    if waiting:
        parts.append("<table><tr><th>student</th><th>status</th></tr>")
        parts.extend(f'<tr><td>{_e(s)}</td><td class="bad">{_e(status)}</td></tr>' for s, status in waiting)
        parts.append("</table><p><code>retry</code>: graded again on the next run; <code>error</code>: see the message.</p>")
    else:
        parts.append("<p>Nobody: every student is graded.</p>")

    parts.extend(late_section_html(rows, _e))  # deadlines.py: late submissions and extensions, when a due date is set

    parts.append("<h2>Most common diagnoses</h2>")
    if diagnoses:
        parts.append("<table><tr><th>likely cause</th><th>students</th><th>in checks</th></tr>")
        parts.extend(
            f'<tr><td>{_e(cause)}</td><td class="n">{n}</td><td>{_e(", ".join(checks[:4]))}{" …" if len(checks) > 4 else ""}</td></tr>'
            for cause, n, checks in diagnoses[:15]
        )
        parts.append("</table>")
    else:
        parts.append("<p>No failed check names a likely cause.</p>")

    parts.append("<h2>Checks</h2><table><tr><th>exercise</th><th>check</th><th>passed</th><th>rate</th></tr>")
    parts.extend(f'<tr><td>{ex}</td><td>{_e(name)}</td><td class="n">{p} of {g}</td><td class="n">{_percent(p, g)}</td></tr>' for ex, name, p, g in rates)
    parts.append("</table>")

    parts.extend(_variants_section(rows, exercises))

    if trainings:
        parts.append("<h2>Models the grader trained</h2><table><tr><th>exercise</th><th>models</th><th>accuracy: lowest / median / highest</th>"
                     "<th>training s (median)</th><th>reused trainings</th></tr>")
        for exercise, found in sorted(trainings.items()):
            accuracy = [t["test_accuracy"] for t in found]
            seconds = [t.get("training_seconds") or 0 for t in found]
            reused = sum(bool(t.get("training_reused")) for t in found)
            parts.append(
                f'<tr><td>{exercise}</td><td class="n">{len(found)}</td><td>{min(accuracy):.2%} / {statistics.median(accuracy):.2%} / {max(accuracy):.2%}</td>'
                f'<td class="n">{statistics.median(seconds):.0f}</td><td class="n">{reused}</td></tr>'
            )
        parts.append("</table>")

    parts.extend(_history_section(out))
    parts.extend(_similarity_section(similar))

    parts.append('<h2 id="students">Students</h2><table class="students"><tr><th>student</th>' + "".join(f"<th>{ex.id}</th>" for ex in exercises)
                 + "<th>total</th><th>status</th><th>feedback</th></tr>")
    for student, report, status in rows:
        scores = {ex["id"]: f"{ex['score']} ({ex['variant']['key']})" if isinstance(ex.get("variant"), dict) else ex["score"]
                  for ex in (report or {}).get("exercises", [])}
        found = [name for name in ("feedback.html", "feedback.md") if (out / "students" / student / name).is_file()] if report else []
        page = f'<a href="students/{quote(student)}/{found[0]}">{found[0]}</a>' if found else ""
        parts.append(
            f"<tr><td>{_e(student)}</td>" + "".join(f'<td class="n">{_e(scores.get(ex.id, ""))}</td>' for ex in exercises)
            + f'<td class="n">{_e(report["score"]) if report else ""}</td><td>{_e(status)}</td><td>{page}</td></tr>'
        )
    parts.append("</table></main></body></html>")
    return "\n".join(part for part in parts if part) + "\n"


def write_class_page(out: Path, rows, exercises: list[Exercise], similar: dict[str, Any] | None = None) -> Path:
    path = out / PAGE
    write_text(path, class_page(out, rows, exercises, similar))
    return path
