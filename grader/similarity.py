"""The class's code-similarity report: which pairs of students handed in code
that is more alike than chance, exercise by exercise.

Two kinds of evidence, written to OUT/similarity.json, listed in class.html,
and printed at the end of a batch:

- **Byte-identical submissions** (the same submission sha256; the batch grades
  them once and each student gets the same report). Found without any extra
  package. Students who all handed in the untouched stubs are left out.
- **Similar code**, from [copydetect](https://pypi.org/project/copydetect/)
  (the `similarity` extra: `pip install -e ".[similarity]"`): each student's
  file of an exercise is tokenised (names, strings and comments are abstracted
  away, so renaming variables hides nothing) and winnowed into fingerprints
  (Schleimer, Wilkerson and Aiken's MOSS algorithm); the stub's own
  fingerprints are removed first (copydetect's boilerplate), so the code every
  student was given never counts. Each pair whose overlap reaches the
  threshold (the larger of the two shares, default 0.5) gets a side-by-side
  page with the shared code highlighted, OUT/similarity/NNN.html.

Without copydetect the batch says how to get the report and carries on. A
similarity is evidence for a person to look at, never a verdict: the grade
is untouched. Everything is read from the same checked file list the grader
hashes (sandbox.graded_files: no symlink followed, sizes capped).
"""

from __future__ import annotations

import html
import io
import json
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

from mnist_course.course import Exercise

from .report import write_text
from .sandbox import graded_files

JSON = "similarity.json"
PAGES = "similarity"
DEFAULT_THRESHOLD = 0.5
INSTALL = 'pip install -e ".[similarity]"'


def _source(folder: Path, filename: str) -> str | None:
    """The student's file of one exercise, if they handed it in (read as the grader reads it)."""
    if Path(filename) not in set(graded_files(folder)):
        return None
    return (folder / filename).read_bytes().decode("utf-8", errors="replace")


def identical_groups(hashes: dict[str, str], sources: dict[str, dict[str, str | None]], stubs: dict[str, str]) -> list[list[str]]:
    """Students whose submissions are byte-identical (two or more each), except
    those who handed in nothing but the untouched stubs."""
    groups = defaultdict(list)
    for student, digest in hashes.items():
        files = sources.get(student, {})
        if all(code is None or code == stubs[name] for name, code in files.items()):
            continue  # not started: identical to every other student who has not started
        groups[digest].append(student)
    return sorted(sorted(group) for group in groups.values() if len(group) > 1)


def _fingerprints(exercise: Exercise, codes: dict[str, str]):
    """copydetect's fingerprints of each student's file, the stub's removed."""
    from copydetect import CodeFingerprint, defaults

    k = defaults.NOISE_THRESHOLD
    window = defaults.GUARANTEE_THRESHOLD - defaults.NOISE_THRESHOLD + 1
    stub = CodeFingerprint(exercise.filename, k, 1, fp=io.StringIO(exercise.stub_path.read_text(encoding="utf-8")))
    boilerplate = sorted(stub.hashes)
    return {student: CodeFingerprint(exercise.filename, k, window, boilerplate, fp=io.StringIO(code)) for student, code in codes.items()}


def _pair_page(exercise: Exercise, a: str, b: str, fa, fb, slices, shares) -> str:
    from copydetect.utils import highlight_overlap

    def code(fp, cut):
        if cut.shape[0] and cut.shape[1]:
            text, _ = highlight_overlap(fp.raw_code, cut, "<mark>", "</mark>", escape_html=True)
            return text
        return html.escape(fp.raw_code)

    e = html.escape
    return "\n".join([
        "<!DOCTYPE html>",
        f'<html lang="en"><head><meta charset="utf-8"><title>{e(exercise.id)}: {e(a)} and {e(b)}</title>',
        "<style>body{font-family:sans-serif;margin:1em}main{display:flex;gap:1em}section{flex:1;min-width:0}"
        "pre{background:#f6f6f6;padding:.5em;overflow-x:auto;font-size:.85em}mark{background:#ffd27a}</style></head><body>",
        f"<h1>{e(exercise.id)} · {e(exercise.title)}: {e(a)} and {e(b)}</h1>",
        f"<p>Highlighted: code the two files share once the stub's own code is set aside (copydetect; names and "
        f"literals abstracted). {e(a)}: {shares[0]:.0%} of their code; {e(b)}: {shares[1]:.0%}. "
        "Similar code is a reason to look, never a verdict: a short exercise leaves few ways to write it.</p>",
        f"<main><section><h2>{e(a)}</h2><pre>{code(fa, slices[0])}</pre></section>",
        f"<section><h2>{e(b)}</h2><pre>{code(fb, slices[1])}</pre></section></main>",
        '<p><a href="../class.html">Back to the class</a></p></body></html>',
    ]) + "\n"


def class_similarity(
    submissions: Path, hashes: dict[str, str], exercises: list[Exercise], out: Path, threshold: float = DEFAULT_THRESHOLD
) -> dict[str, Any]:
    """Compare every pair of students, exercise by exercise; write OUT/similarity.json
    and the pair pages; return what was found (the same dict as the JSON)."""
    students = sorted(hashes)
    stubs = {ex.filename: ex.stub_path.read_text(encoding="utf-8") for ex in exercises}
    sources: dict[str, dict[str, str | None]] = {}
    for student in students:
        try:
            sources[student] = {ex.filename: _source(submissions / student, ex.filename) for ex in exercises}
        except (OSError, ValueError):  # changed or unreadable since it was hashed: left out, as when grading
            sources[student] = {}
    result: dict[str, Any] = {
        "threshold": threshold,
        "identical": identical_groups(hashes, sources, stubs),
        "pairs": [],
        "available": True,
        "library": None,
    }
    pages = out / PAGES
    shutil.rmtree(pages, ignore_errors=True)
    try:
        import copydetect
    except ImportError:
        result.update(available=False, note=f"the code-similarity report needs copydetect: {INSTALL}")
        write_text(out / JSON, json.dumps(result, indent=2, ensure_ascii=False) + "\n")
        return result
    from copydetect import compare_files

    result["library"] = f"copydetect {getattr(copydetect, '__version__', '?')}"
    found = []
    for exercise in exercises:
        codes = {s: code for s in students if (code := sources[s].get(exercise.filename)) is not None and code != stubs[exercise.filename]}
        prints = _fingerprints(exercise, codes)
        names = sorted(prints)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                _, shares, slices = compare_files(prints[a], prints[b])
                if max(shares) >= threshold:
                    found.append((exercise, a, b, (float(shares[0]), float(shares[1])), slices, prints))
    found.sort(key=lambda f: (-max(f[3]), f[0].id, f[1], f[2]))
    for n, (exercise, a, b, shares, slices, prints) in enumerate(found, start=1):
        page = f"{PAGES}/{n:03d}.html"
        write_text(out / page, _pair_page(exercise, a, b, prints[a], prints[b], slices, shares))
        result["pairs"].append({
            "exercise": exercise.id,
            "students": [a, b],
            "shares": [round(shares[0], 4), round(shares[1], 4)],
            "identical_file": sources[a][exercise.filename] == sources[b][exercise.filename],
            "page": page,
        })
    write_text(out / JSON, json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return result
