"""The class similarity report's cost on a synthetic class of 150 (ex01): how many
pairs are compared and how long it takes. Run: python benchmarks/similarity_150.py

The class: 40 hand in the reference solution (some with names changed), 30 one
shared own one_hot, 20 untouched stubs, 60 each their own variant (the solution
with one line of their own appended, a distinct file each), as a large class's
mix of copies, leaks and own work might look.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from grader.classroom.batch import submission_hash
from grader.classroom.similarity import class_similarity
from test_handback import EX01, OWN_ONE_HOT, _hand_in, _only


def main() -> None:
    solution, stub = EX01.solution_path.read_text(), EX01.stub_path.read_text()
    own = _only(OWN_ONE_HOT, "one_hot")
    with tempfile.TemporaryDirectory() as tmp:
        subs = Path(tmp) / "submissions"
        for n in range(150):
            if n < 40:
                code = solution if n % 2 else solution.replace("images", f"pics{n % 4}")
            elif n < 70:
                code = own
            elif n < 90:
                code = stub
            else:
                code = solution + f"\nMY_CONSTANT_{n} = {n} * 2\n"
            _hand_in(subs, f"student{n:03d}", code)
        hashes = {p.name: submission_hash(p) for p in subs.iterdir()}
        started = time.perf_counter()
        found = class_similarity(subs, hashes, [EX01], Path(tmp) / "out")
        seconds = time.perf_counter() - started
        files = len({(subs / s / EX01.filename).read_text() for s in hashes}) - 1  # the stub is never compared
        print(f"150 students, {files} distinct files: {files * (files - 1) // 2} fingerprint intersections, "
              f"{found['compared']['ex01']} full comparisons (copydetect) "
              f"(+{sum(found['not_compared'].values())} not compared), {len(found['clusters'])} clusters "
              f"({', '.join(str(len(c['students'])) for c in found['clusters'])} students), {seconds:.1f} s")


if __name__ == "__main__":
    main()
