"""The class's code-similarity report: which students handed in code that is
more alike than chance, exercise by exercise, as groups.

Written to OUT/similarity.json, listed in class.html, printed at the end of a
batch:

- **Byte-identical submissions** (`identical`: the same submission sha256; the
  batch grades them once and each student gets the same report). Found
  without any extra package. Students who all handed in the untouched stubs
  are left out.
- **Groups** (`clusters`), from [copydetect](https://pypi.org/project/copydetect/)
  (the `similarity` extra: `pip install -e ".[similarity]"`): each distinct
  file of an exercise is tokenised (names, strings and comments abstracted
  away, so renaming variables hides nothing) and winnowed into fingerprints
  (Schleimer, Wilkerson and Aiken's MOSS algorithm), the stub's own
  fingerprints removed first, so the code every student was given never
  counts. Two files are linked when their overlap reaches the threshold (the
  larger of the two shares, default 0.7); students with the same file are
  linked too. A group is a connected component of those links: six students
  sharing one file are one group on one page, not 15 pairs. Each group has
  `students`, `files` (distinct), `pairs` (compared and linked), `shares`
  (the lowest and highest of those pairs), `identical_file`, `page`
  (OUT/similarity/NNN.html: the members, each distinct file once with who
  handed it in, the code it shares with the group's first file highlighted)
  and `matches`: the course's own code the group's leading file matches at
  the same threshold, "the reference solution (solutions/exNN_*.py)" or "a
  lesson cell (lessons/NN_*.py, code cell N)" (jupytext percent cells of at
  least MIN_CELL_PRINTS fingerprints). A match is a leak to investigate (how
  did the reference get out? the lesson gave the code away?), not
  necessarily copying. `pairs` still lists each linked pair that was
  compared (`exercise`, `students`, `shares`, `identical_file`, `page`, the
  group's page).

The cost, for a class of 150: each distinct file is fingerprinted once
(students with the same file are one node); every pair of distinct files is
first compared by its shared fingerprints alone (a set intersection); the
pairs sharing at least half the threshold's share go, most alike first, to
copydetect's full comparison, except a pair already in one group through
others, so a group of n distinct files costs at most n - 1 full comparisons;
at most MAX_COMPARED per exercise (the report says how many more were left,
`not_compared`, and how many were done, `compared`). Measured by
benchmarks/similarity_150.py on this course's 2-core machine: 150 students
of ex01 (40 with the reference, some renamed; 30 with one shared file; 20
stubs; 60 each with a variant of their own), 64 distinct files: 2,016
fingerprint intersections, 62 full comparisons (comparing every pre-filtered
pair would have been 1,953, and the cap of 300 would have left 1,653 unread),
2 groups (100 and 30 students), 2.3 s with the pages written. A run whose
submissions, threshold and library are those of the last report reuses it.

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
MIN_CELL_PRINTS = 5  # a lesson cell with fewer fingerprints (an import, a print) matches too much to mean anything
LESSONS = Path(__file__).resolve().parents[2] / "lessons"
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


def _lesson_cells() -> list[tuple[str, str]]:
    """(where, code) of every code cell of the lessons (jupytext percent format)."""
    cells = []
    for lesson in sorted(LESSONS.glob("*.py")):
        text = lesson.read_text(encoding="utf-8")
        for n, cell in enumerate(text.split("\n# %%")[1:], start=1):
            if cell.startswith(" [markdown]"):
                continue
            code = cell.split("\n", 1)[1] if "\n" in cell else ""
            if code.strip():
                cells.append((f"{lesson.name}, code cell {n}", code))
    return cells


def _course_prints(exercise: Exercise, cells) -> list[tuple[str, Any]]:
    """The course's own code an exercise's file could match, fingerprinted as the
    students' files are (the stub set aside): the reference solution, each lesson cell."""
    from copydetect import CodeFingerprint, defaults

    k = defaults.NOISE_THRESHOLD
    window = defaults.GUARANTEE_THRESHOLD - defaults.NOISE_THRESHOLD + 1
    stub = sorted(CodeFingerprint(exercise.filename, k, 1, fp=io.StringIO(exercise.stub_path.read_text(encoding="utf-8"))).hashes)
    found = []
    if exercise.solution_path.is_file():  # a class's starter has no solutions/ (mnist_course/starter.py)
        found.append((f"the reference solution (solutions/{exercise.solution_path.name})",
                      CodeFingerprint(exercise.filename, k, window, stub, fp=io.StringIO(exercise.solution_path.read_text(encoding="utf-8")))))
    for where, code in cells:
        cell = CodeFingerprint("cell.py", k, window, stub, fp=io.StringIO(code))
        if len(cell.hashes) >= MIN_CELL_PRINTS:
            found.append((f"a lesson cell (lessons/{where})", cell))
    return found


def _matches(fingerprint, course, threshold: float) -> list[str]:
    """What the course itself holds that this file's own code matches: a leak to
    look into, not necessarily copying."""
    return [label for label, fp in course if _containment(fingerprint, fp) >= threshold]


def _cluster_page(exercise: Exercise, cluster: dict[str, Any], files: list[tuple[list[str], Any, Any]]) -> str:
    """One page per cluster: its members, each distinct file once (with who handed it
    in), the code it shares with the cluster's first file highlighted."""
    from copydetect.utils import highlight_overlap

    def code(fp, cut):
        if cut is None:  # the cluster's own file, or one identical to it
            return f"<mark>{html.escape(fp.raw_code)}</mark>"
        if cut.shape[0] and cut.shape[1]:
            text, _ = highlight_overlap(fp.raw_code, cut, "<mark>", "</mark>", escape_html=True)
            return text
        return html.escape(fp.raw_code)

    e = html.escape
    members = cluster["students"]
    matches = "".join(f'<p class="leak"><strong>Matches {e(m)}</strong>: a leak to investigate, not necessarily copying.</p>'
                      for m in cluster["matches"])
    # A long line scrolls sideways: tabindex lets a keyboard reach and scroll each pane (WCAG 2.1.1), the label names it.
    sections = "".join(
        f'<section aria-labelledby="file{n}"><h2 id="file{n}">{e(", ".join(holders))}</h2>'
        f'<pre tabindex="0" aria-label="{e(", ".join(holders))}: code">{code(fp, cut)}</pre></section>'
        for n, (holders, fp, cut) in enumerate(files, start=1)
    )
    return "\n".join([
        "<!DOCTYPE html>",
        f'<html lang="en"><head><meta charset="utf-8"><title>{e(exercise.id)}: {e(", ".join(members))}</title>',
        "<style>body{font-family:sans-serif;margin:1em}.files{display:flex;gap:1em;flex-wrap:wrap}section{flex:1;min-width:25em}"
        "pre{background:#f6f6f6;padding:.5em;overflow-x:auto;font-size:.85em}pre:focus{outline:2px solid #1a5fb4}"
        "mark{background:#ffd27a}.leak{color:#8a1c1c}</style></head><body><main>",
        f"<h1>{e(exercise.id)} · {e(exercise.title)}: {len(members)} students</h1>",
        f"<p>Members: {e(', '.join(members))}. They are linked by pairs that share {cluster['threshold']:.0%} or more of their "
        "code once the stub's own code is set aside (copydetect; names and literals abstracted), or by handing in the same file. "
        "Highlighted: the code each file shares with the first one. Similar code is a reason to look, never a verdict: "
        "a short exercise leaves few ways to write it.</p>",
        matches,
        f'<div class="files">{sections}</div>',
        '<p><a href="../class.html">Back to the class</a></p></main></body></html>',
    ]) + "\n"


def _root(parent: dict[str, str], n: str) -> str:
    while parent[n] != n:
        n = parent[n]
    return n


def _components(nodes: list[str], edges: list[tuple[str, str]]) -> list[list[str]]:
    """The connected components of a graph with two or more nodes (union-find)."""
    parent = {n: n for n in nodes}

    def root(n):
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for a, b in edges:
        parent[root(a)] = root(b)
    groups = defaultdict(list)
    for n in nodes:
        groups[root(n)].append(n)
    return sorted(sorted(g) for g in groups.values() if len(g) > 1)


def class_similarity(
    submissions: Path, hashes: dict[str, str], exercises: list[Exercise], out: Path, threshold: float = DEFAULT_THRESHOLD,
    folders: dict[str, Path] | None = None,
) -> dict[str, Any]:
    """Compare every pair of students, exercise by exercise; write OUT/similarity.json
    and the pair pages; return what was found (the same dict as the JSON). `folders`: what
    was graded for each student (the upload step's copy: a file found in a zip, under
    another case or in a notebook is compared as graded), else SUBMISSIONS/<student>."""
    folders = folders or {}
    students = sorted(hashes)
    stubs = {ex.filename: ex.stub_path.read_text(encoding="utf-8") for ex in exercises}
    sources: dict[str, dict[str, str | None]] = {}
    for student in students:
        try:
            sources[student] = {ex.filename: _source(folders.get(student, submissions / student), ex.filename) for ex in exercises}
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
    result["library"] = f"copydetect {getattr(copydetect, '__version__', '?')}"
    result["key"] = _key(hashes, exercises, threshold, result["library"])
    try:
        earlier = json.loads((out / JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        earlier = None
    if isinstance(earlier, dict) and earlier.get("key") == result["key"] and "clusters" in earlier and all((out / c["page"]).is_file() for c in earlier["clusters"]):
        return earlier  # nothing that decides it changed: the last report stands
    shutil.rmtree(pages, ignore_errors=True)
    from copydetect import compare_files

    result["not_compared"], result["compared"], result["clusters"] = {}, {}, []
    cells = _lesson_cells()
    for exercise in exercises:
        course = _course_prints(exercise, cells)
        codes = {s: code for s in students if (code := sources[s].get(exercise.filename)) is not None and code != stubs[exercise.filename]}
        holders = defaultdict(list)  # each distinct file once: students with the same file are one node
        for student, code in codes.items():
            holders[code].append(student)
        files = {min(group): code for code, group in holders.items()}  # a file named by its first holder
        prints = _fingerprints(exercise, files)
        names = sorted(prints)
        candidates = sorted(
            ((-c, a, b) for i, a in enumerate(names) for b in names[i + 1:] if (c := _containment(prints[a], prints[b])) >= PREFILTER * threshold),
        )
        # The most alike first; a pair already in one group (through others) is not compared:
        # a group of n distinct files needs at most n - 1 full comparisons, not n(n-1)/2.
        linked = {n: n for n in names}
        edges, compared, left = [], 0, 0
        for _, a, b in candidates:
            if _root(linked, a) == _root(linked, b):
                continue
            if compared == MAX_COMPARED:
                left += 1
                continue
            compared += 1
            _, shares, _ = compare_files(prints[a], prints[b])
            if max(shares) >= threshold:
                edges.append((a, b, (float(shares[0]), float(shares[1]))))
                linked[_root(linked, a)] = _root(linked, b)
        result["compared"][exercise.id] = compared
        if left:
            result["not_compared"][exercise.id] = left
        for component in _components(names + [s for s in codes if s not in prints], [(a, b) for a, b, _ in edges]
                                     + [(min(g), s) for g in holders.values() for s in g if s != min(g)]):
            reps = [n for n in component if n in prints]
            first = max(reps, key=lambda n: (len(holders[files[n]]), -reps.index(n)))  # the most handed-in file leads
            inner = [x for x in edges if x[0] in reps]
            shares = [v for _, _, sh in inner for v in sh] or [1.0]
            cluster = {
                "exercise": exercise.id,
                "students": component,
                "files": len(reps),
                "pairs": len(inner),
                "shares": [round(min(shares), 4), round(max(shares), 4)],
                "identical_file": len(reps) == 1,
                "matches": _matches(prints[first], course, threshold),
                "threshold": threshold,
            }
            result["clusters"].append((exercise, cluster, first, reps, prints, inner, dict(holders), files))
    result["clusters"].sort(key=lambda c: (-len(c[1]["students"]), -c[1]["shares"][1], c[1]["exercise"], c[1]["students"]))
    clusters = []
    for n, (exercise, cluster, first, reps, prints, inner, holders, files) in enumerate(result["clusters"], start=1):
        page = cluster["page"] = f"{PAGES}/{n:03d}.html"
        others = [r for r in reps if r != first]
        shown = []
        for rep in [first] + others:
            if not others:  # one file: all of it is shared
                cut = None
            elif rep == first:
                cut = compare_files(prints[first], prints[others[0]])[2][0]
            else:
                cut = compare_files(prints[first], prints[rep])[2][1]
            shown.append((sorted(holders[files[rep]]), prints[rep], cut))
        write_text(out / page, _cluster_page(exercise, cluster, shown))
        cluster.pop("threshold")
        clusters.append(cluster)
        for a, b, shares in inner:
            result["pairs"].append({
                "exercise": exercise.id, "students": [a, b], "shares": [round(shares[0], 4), round(shares[1], 4)],
                "identical_file": False, "page": page,
            })
    result["clusters"] = clusters
    write_text(out / JSON, json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return result
