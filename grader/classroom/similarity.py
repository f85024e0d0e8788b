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
  threshold (the larger of the two shares, default 0.7) gets a side-by-side
  page with the shared code highlighted, OUT/similarity/NNN.html.

For a large class the work is bounded: each distinct file is fingerprinted
once, every pair is first compared by its shared fingerprints alone (a set
intersection), and only pairs sharing at least half the threshold's share of
fingerprints go to copydetect's full comparison, at most MAX_COMPARED of them
per exercise, the most alike first (the report says how many more there
were). A run whose submissions, threshold and library are those of the last
report reuses it.

Without copydetect the batch says how to get the report and carries on. A
similarity is evidence for a person to look at, never a verdict: the grade
is untouched. Everything is read from the same checked file list the grader
hashes (safe_files.graded_files: no symlink followed, sizes capped).
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

from mnist_course.course import Exercise

from ..reports.report import write_text
from ..isolation.safe_files import graded_files

JSON = "similarity.json"
PAGES = "similarity"
DEFAULT_THRESHOLD = 0.7  # independently written correct code of one short exercise shares up to about half (see docs/INSTRUCTORS.md)
INSTALL = 'pip install -e ".[similarity]"'
MAX_COMPARED = 300  # full comparisons per exercise: beyond that the threshold is too low for a person to read the list
PREFILTER = 0.5  # a pair is compared in full when its shared fingerprints reach this share of the threshold


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
    """copydetect's fingerprints of each student's file, the stub's removed (each
    distinct file fingerprinted once; students with the same file share one)."""
    from copydetect import CodeFingerprint, defaults

    k = defaults.NOISE_THRESHOLD
    window = defaults.GUARANTEE_THRESHOLD - defaults.NOISE_THRESHOLD + 1
    stub = CodeFingerprint(exercise.filename, k, 1, fp=io.StringIO(exercise.stub_path.read_text(encoding="utf-8")))
    boilerplate = sorted(stub.hashes)
    distinct = {code: CodeFingerprint(exercise.filename, k, window, boilerplate, fp=io.StringIO(code)) for code in set(codes.values())}
    return {student: distinct[code] for student, code in codes.items()}


def _containment(a, b) -> float:
    """The larger share of either file's fingerprints found in the other: cheap, and
    close to copydetect's share of code (which counts the tokens they cover)."""
    if not a.hashes or not b.hashes:
        return 0.0
    shared = len(a.hashes & b.hashes)
    return shared / min(len(a.hashes), len(b.hashes))


def _key(hashes: dict[str, str], exercises: list[Exercise], threshold: float, library: str) -> str:
    """What decides the report: who handed in what, the stubs, the threshold, the library."""
    digest = hashlib.sha256(f"{threshold}\0{library}\0{MAX_COMPARED}\0{PREFILTER}".encode())
    for ex in exercises:
        digest.update(ex.id.encode() + b"\0" + ex.stub_path.read_bytes())
    for student in sorted(hashes):
        digest.update(f"{student}\0{hashes[student]}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def _pair_page(exercise: Exercise, a: str, b: str, fa, fb, slices, shares) -> str:
    from copydetect.utils import highlight_overlap

    def code(fp, cut):
        if cut is None:  # the same file on both sides
            return f"<mark>{html.escape(fp.raw_code)}</mark>"
        if cut.shape[0] and cut.shape[1]:
            text, _ = highlight_overlap(fp.raw_code, cut, "<mark>", "</mark>", escape_html=True)
            return text
        return html.escape(fp.raw_code)

    e = html.escape
    return "\n".join([
        "<!DOCTYPE html>",
        f'<html lang="en"><head><meta charset="utf-8"><title>{e(exercise.id)}: {e(a)} and {e(b)}</title>',
        "<style>body{font-family:sans-serif;margin:1em}.pair{display:flex;gap:1em}section{flex:1;min-width:0}"
        "pre{background:#f6f6f6;padding:.5em;overflow-x:auto;font-size:.85em}pre:focus{outline:2px solid #1a5fb4}"
        "mark{background:#ffd27a}</style></head><body><main>",
        f"<h1>{e(exercise.id)} · {e(exercise.title)}: {e(a)} and {e(b)}</h1>",
        f"<p>Highlighted: code the two files share once the stub's own code is set aside (copydetect; names and "
        f"literals abstracted). {e(a)}: {shares[0]:.0%} of their code; {e(b)}: {shares[1]:.0%}. "
        "Similar code is a reason to look, never a verdict: a short exercise leaves few ways to write it.</p>",
        # A long line scrolls sideways: tabindex lets a keyboard reach and scroll it (WCAG 2.1.1), the label names it.
        f'<div class="pair"><section aria-labelledby="first"><h2 id="first">{e(a)}</h2>'
        f'<pre tabindex="0" aria-label="{e(a)}\'s code">{code(fa, None if slices is None else slices[0])}</pre></section>',
        f'<section aria-labelledby="second"><h2 id="second">{e(b)}</h2>'
        f'<pre tabindex="0" aria-label="{e(b)}\'s code">{code(fb, None if slices is None else slices[1])}</pre></section></div>',
        '<p><a href="../class.html">Back to the class</a></p></main></body></html>',
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
    try:
        import copydetect
    except ImportError:
        shutil.rmtree(pages, ignore_errors=True)
        result.update(available=False, note=f"the code-similarity report needs copydetect: {INSTALL}")
        write_text(out / JSON, json.dumps(result, indent=2, ensure_ascii=False) + "\n")
        return result
    from copydetect import compare_files

    result["library"] = f"copydetect {getattr(copydetect, '__version__', '?')}"
    result["key"] = _key(hashes, exercises, threshold, result["library"])
    try:
        earlier = json.loads((out / JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        earlier = None
    if isinstance(earlier, dict) and earlier.get("key") == result["key"] and all((out / p["page"]).is_file() for p in earlier.get("pairs", [])):
        return earlier  # nothing that decides it changed: the last report stands
    shutil.rmtree(pages, ignore_errors=True)
    found, result["not_compared"] = [], {}
    for exercise in exercises:
        codes = {s: code for s in students if (code := sources[s].get(exercise.filename)) is not None and code != stubs[exercise.filename]}
        prints = _fingerprints(exercise, codes)
        names = sorted(prints)
        candidates = sorted(
            ((-c, a, b) for i, a in enumerate(names) for b in names[i + 1:] if (c := _containment(prints[a], prints[b])) >= PREFILTER * threshold),
        )
        if len(candidates) > MAX_COMPARED:
            result["not_compared"][exercise.id] = len(candidates) - MAX_COMPARED
        for _, a, b in candidates[:MAX_COMPARED]:
            if codes[a] == codes[b]:  # the same file: all of it is shared, nothing to compute
                shares, slices = (1.0, 1.0), None
            else:
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
