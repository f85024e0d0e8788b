"""Does anything a student receives answer a graded function? (issue 38 item 1, issue 34 item 3)

**References.** Every function course.toml grades is answered by its solution's marked
block (`solution_references`). The grader's own answers count too (`grader_answers`):
the functions of grader/references/<module>.py that GRADER_ANSWERS names, or that bear a
graded function's name. One that uses a library the exercise's worker refuses
(course.toml's `by_hand_forbids`) earns nothing pasted into a by-hand file; any other
is an answer a student could paste, and ships as one.

**Units.** Every piece of what a student receives (`units`): each function and each
module's top level of every .py file, every code cell of every notebook (the lessons,
nbgrader's release), and, as "docs", every docstring and every fenced code block of a
Markdown file or cell.

**Similarity.** Code is first written back by Python's own AST (`canonical`: comments,
layout, quotes, trailing commas and redundant parentheses gone), without its checks of
the input (every `raise` and the `if` around it: the contract's validation, which every
implementation writes alike). Then copydetect's tokens (the `dev` and `similarity`
extras; the batch grader's similarity report uses them too): names and strings
abstracted, every k-gram of K characters hashed (MOSS's fingerprints). Numbers are
abstracted too, so that renaming a variable or changing a constant hides nothing; but a
Keras declaration's are kept (`names_keras`: a model exercise's answer *is* its
configuration, a width or a number of epochs, written in the idiom every lesson's
network shares). A reference's `share` of a unit is the part of its fingerprints the
unit holds, what the exercise's stub gives every student set aside: 1.0 when the unit
holds all of it, however much else it holds.

It finds copies, renamed and rewritten; not another implementation of the same method
(correct code written apart from the solutions holds at most 0.40 of one): that is why
the grader's own answers are named rather than searched for, and why a lesson's
near-solve written in other words is a matter for a person to read.

`python -m mnist_course.answers [SHARE]` prints the highest share of each graded
function in each kind of unit, and every unit at or over SHARE (default: the
thresholds); tests/test_no_answer_ships.py holds what a student receives to them.
"""

from __future__ import annotations

import ast
import json
import re
import sys
import textwrap
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from .build import marked_blocks
from .course import ROOT, Course, Exercise, load_course

# A unit holding this share of a reference's fingerprints answers its graded function:
# 0.1 above the most that code written apart from the reference holds of it. Measured
# (mnist_course/README.md, "What answers an exercise"): a reference copied, renamed, its
# numbers changed and its layout rewritten holds 1.0 of itself, and a median of 0.69 with
# one statement in five left out; every correct alternative of tests/test_alternatives.py
# (written apart from the solutions) holds at most 0.40 of its function's reference. A
# Keras declaration's numbers are kept (its configuration is its answer): the lessons' own
# networks, in the idiom every one of them is written in, hold up to 0.55 of one, and a
# copy with one statement in five left out at least 0.69.
THRESHOLD = 0.5
KERAS_THRESHOLD = 0.65
# A reference with fewer fingerprints is too short to tell from incidental code (a
# one-line dict of settings): the course names each such function (TOO_SHORT in the test).
MIN_PRINTS = 8
# copydetect's defaults: k-grams of 25 characters of tokenised code, every one kept (a
# window of 1), as the batch similarity report fingerprints.
K = 25
NUMBER = re.compile(r"(?<![A-Za-z_])(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][-+]?\d+)?[jJ]?")

KINDS = ("exercise stubs", "lesson cells", "nbgrader release", "grader", "grader references", "mnist_course", "docs")

# The grader's own answers, by exercise and graded function: the functions of
# grader/references/<module>.py that compute what the graded function returns (a
# method as Class.method). A function that bears a graded function's name counts
# without being listed. Whoever moves or renames one updates its row.
GRADER_ANSWERS = {
    "ex01": {"standardize": ("standardized",)},
    "ex02b": {"loss": ("loss", "linear_loss", "floored_loss"), "gradients": ("grads", "gradient_tape", "finite_differences")},
    "ex05b": {"conv_output_size": ("Case.out_size", "output_size"), "conv2d": ("Case.same_pads", "Case.convolved"), "max_pool2d": ("max_pooled",),
              "conv2d_backward": ("Case.gradients",), "max_pool2d_backward": ("pool_gradient",)},
    "ex05c": {"momentum_step": ("keras_steps", "optimizer"), "adaptive_step": ("keras_steps", "optimizer"), "fit": ("keras_fit",)},
    "ex03b": {"validation_accuracy": ("declared_run",), "choose_width": ("rule", "best_row")},
}
# Graded functions whose docstring is already the whole implementation, so the grader's own
# answer tells a student nothing the stub does not: why, per function. Today ex03b's: an
# experiment's protocol must name every layer and setting to be repeatable (the grader runs it
# to check that a table's cells are real runs, #38 item 2), and a decision rule fixed before
# the results is stated in words. The test holds each docstring to naming what the grader's
# answer does. A paste of either earns what a transcription of its docstring earns; the
# exercise's other points are for running the experiment on images drawn for the file.
ANSWERED_BY_ITS_CONTRACT = {
    "ex03b.validation_accuracy": "the experiment's protocol: its docstring names every layer, the optimizer, the loss, the "
    "epochs and the batch size, as a plan must for anyone to repeat its runs; grader/references/ex03b_experiment.py runs "
    "exactly that, to compare the student's table with real runs",
    "ex03b.choose_width": "the decision rule: its docstring states each variant's floor in words, as a rule written down "
    "before the results must be; grader/references/ex03b_experiment.py's rule() is those words for every variant",
}


MAGIC = re.compile(r"^(\s*)([%!])", re.MULTILINE)


class _Guards(ast.NodeTransformer):
    """Removes the checks of the input: every `raise`, every `if` left empty without its
    raises, and every loop left empty (a function left empty keeps a `pass`)."""

    def visit_Raise(self, node):
        return None

    def _emptied(self, node):
        self.generic_visit(node)
        if node.body:
            return node
        if isinstance(node, ast.If) and node.orelse:
            node.body = [ast.Pass()]
            return node
        if isinstance(node, (ast.For, ast.AsyncFor, ast.While)) and node.orelse:
            return node.orelse
        return None

    visit_If = visit_For = visit_AsyncFor = visit_While = visit_With = visit_AsyncWith = _emptied

    def _keep(self, node):
        self.generic_visit(node)
        if not node.body:
            node.body = [ast.Pass()]
        return node

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = visit_Try = visit_Module = _keep


def canonical(code: str) -> str:
    """The code as Python's own AST writes it back (ast.unparse), its checks of the input
    removed (`_Guards`): comments, layout, quotes, trailing commas and redundant
    parentheses gone, and the validation every implementation of a contract writes alike.
    A notebook's `%` and `!` lines are read as comments; code that does not parse (prose,
    a shell command) is left as it is."""
    try:
        tree = ast.parse(MAGIC.sub(r"\1# \2", textwrap.dedent(code)))
    except (SyntaxError, ValueError, RecursionError):
        return code
    return ast.unparse(_Guards().visit(tree))


def _filtered(code: str) -> str:
    """copydetect's filtered code (names V, F and O, strings S) of the canonical code."""
    from copydetect.utils import filter_code

    return filter_code(canonical(code), "unit.py", language="python")[0]


def _hashes(filtered: str, numbers: bool) -> frozenset[int]:
    from copydetect.utils import hashed_kgrams

    text = filtered if numbers else NUMBER.sub("N", filtered)
    return frozenset(int(h) for h in hashed_kgrams(text, K))


def fingerprints(code: str, numbers: bool = False) -> frozenset[int]:
    """The hashed k-grams of the code's tokens, numbers abstracted unless `numbers`."""
    return _hashes(_filtered(code), numbers)


@dataclass(frozen=True)
class Unit:
    """One piece of what a student receives, compared as a whole."""

    kind: str  # one of KINDS
    path: str  # the file it is in, relative to what the student receives
    where: str  # the path, and the function, cell or docstring
    code: str

    @cached_property
    def filtered(self) -> str:
        return _filtered(self.code)

    def prints(self, numbers: bool) -> frozenset[int]:
        key = "_numbers" if numbers else "_abstract"
        if key not in self.__dict__:
            self.__dict__[key] = _hashes(self.filtered, numbers)
        return self.__dict__[key]


@dataclass
class Reference:
    """What answers one graded function: its solution's marked block, or the grader's
    own answer when a student could paste it."""

    exercise: str
    function: str
    where: str
    code: str
    boilerplate: str = ""  # the exercise's stub: what every student is given
    configuration: bool = False  # a Keras declaration: its numbers are its answer (names_keras)
    home: str = ""  # the file a grader answer lives in, where it is not searched for

    @property
    def name(self) -> str:
        return f"{self.exercise}.{self.function}"

    @cached_property
    def fingerprints(self) -> frozenset[int]:
        """Its fingerprints, what the stub gives every student set aside."""
        return fingerprints(self.code, self.configuration) - fingerprints(self.boilerplate, self.configuration)

    @property
    def prints(self) -> int:
        return len(self.fingerprints)

    @property
    def searchable(self) -> bool:
        return self.prints >= MIN_PRINTS

    @property
    def threshold(self) -> float:
        return KERAS_THRESHOLD if self.configuration else THRESHOLD

    def share(self, unit: Unit) -> float:
        """The part of the reference's fingerprints that `unit` holds."""
        return len(self.fingerprints & unit.prints(self.configuration)) / len(self.fingerprints) if self.fingerprints else 0.0


# ------------------------------------------------------------------ the references


def solution_references(course: Course, root: Path = ROOT) -> list[Reference]:
    """Each graded function's marked block in its solution, in course order."""
    found = []
    for ex in course.exercises:
        solution = (root / "solutions" / ex.filename).read_text(encoding="utf-8")
        stub = (root / "exercises" / ex.filename).read_text(encoding="utf-8")
        lines = solution.splitlines()
        for begin, end, function in marked_blocks(solution, f"solutions/{ex.filename}"):
            block = textwrap.dedent("\n".join(lines[begin + 1:end]))
            found.append(Reference(ex.id, function, f"solutions/{ex.filename}, {function}()", block, stub, names_keras(block)))
    return found


def names_keras(code: str) -> bool:
    """Whether code builds, compiles or trains with Keras: a declaration, whose numbers are its answer."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return False
    return any(isinstance(node, ast.Name) and node.id in ("keras", "layers") for node in ast.walk(tree))


def _functions(tree: ast.Module):
    """(qualified name, node) of every function and method, nested ones too."""

    def walk(body, prefix):
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield prefix + node.name, node
                yield from walk(node.body, f"{prefix}{node.name}.")
            elif isinstance(node, ast.ClassDef):
                yield from walk(node.body, f"{prefix}{node.name}.")

    yield from walk(tree.body, "")


def _refused_names(tree: ast.Module, forbidden: tuple[str, ...]) -> set[str]:
    """Module-level names bound to a refused library (`import tensorflow as tf`)."""
    names = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            names |= {a.asname or a.name.split(".")[0] for a in node.names if a.name.split(".")[0] in forbidden}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in forbidden:
            names |= {a.asname or a.name for a in node.names}
    return names


KERAS_LOADERS = ("quiet_keras", "quiet_tensorflow")  # the course's own ways to import Keras and TensorFlow (mnist_course.data)


def uses_refused_library(function: ast.AST, module_names: set[str], forbidden: tuple[str, ...],
                         functions: dict[str, ast.AST] | None = None, seen: set[str] | None = None) -> bool:
    """Whether a function imports, names or loads a library a by-hand worker refuses, itself
    or through a function of its module it calls (`functions`, by name; `self.name` for a
    method): pasted into a by-hand file it earns nothing (grader/README.md, "NumPy by hand")."""
    functions, seen = functions or {}, seen if seen is not None else set()
    for node in ast.walk(function):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] in forbidden for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in forbidden:
            return True
        if isinstance(node, ast.Name) and node.id in module_names:
            return True
        if isinstance(node, ast.Call):
            called = node.func.id if isinstance(node.func, ast.Name) else node.func.attr if isinstance(node.func, ast.Attribute) else ""
            if called in KERAS_LOADERS and {"keras", "tensorflow"} & set(forbidden):
                return True
            for name, other in functions.items():
                if name.split(".")[-1] == called and name not in seen:
                    seen.add(name)
                    if uses_refused_library(other, module_names, forbidden, functions, seen):
                        return True
    return False


@dataclass
class GraderAnswer:
    """The grader's own computation of what one graded function returns."""

    exercise: str
    function: str
    path: str  # grader/references/<module>.py
    names: tuple[str, ...]  # its functions, as GRADER_ANSWERS names them
    code: str
    missing: tuple[str, ...]  # names GRADER_ANSWERS gives that the file does not define
    refused: tuple[str, ...]  # those that use a library the exercise's worker refuses

    @property
    def pasteable(self) -> bool:
        """Whether a student who pasted it would earn what it computes: by hand, only if
        none of its parts uses a refused library; otherwise always."""
        return not self.refused

    @property
    def where(self) -> str:
        return f"{self.path}, {' + '.join(f'{n}()' for n in self.names)}"


def grader_answers(course: Course, root: Path = ROOT) -> list[GraderAnswer]:
    """Every graded function's answer among the grader's references: GRADER_ANSWERS's
    rows, and any function of grader/references/<module>.py with its name."""
    found = []
    for ex in course.exercises:
        path = root / "grader" / "references" / ex.filename
        if not path.is_file():
            continue
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
        defined = dict(_functions(tree))
        forbidden = ex.forbidden_libraries if ex.by_hand else ()
        module_names = _refused_names(tree, forbidden)
        for f in ex.functions:
            names = tuple(GRADER_ANSWERS.get(ex.id, {}).get(f.name, ()))
            names += tuple(n for n in defined if n.split(".")[-1] == f.name and n not in names)
            if not names:
                continue
            present = [n for n in names if n in defined]
            refused = tuple(n for n in present if forbidden and uses_refused_library(defined[n], module_names, forbidden, defined))
            code = "\n\n".join(ast.get_source_segment(source, defined[n], padded=True) for n in present)
            found.append(GraderAnswer(ex.id, f.name, f"grader/references/{ex.filename}", names, code,
                                      tuple(n for n in names if n not in defined), refused))
    return found


def references(course: Course | None = None, root: Path = ROOT) -> list[Reference]:
    """What is searched for: every solution's marked blocks, then each grader answer a
    student could paste."""
    course = course or load_course()
    found = solution_references(course, root)
    for answer in grader_answers(course, root):
        if answer.pasteable and answer.code:
            ex = course.exercise(answer.exercise)
            stub = (root / "exercises" / ex.filename).read_text(encoding="utf-8")
            found.append(Reference(answer.exercise, answer.function, answer.where, answer.code, stub, names_keras(answer.code), answer.path))
    return found


# ------------------------------------------------------------------ the units


def kind_of(path: str) -> str:
    for prefix, kind in (("exercises/", "exercise stubs"), ("lessons/", "lesson cells"), ("release/", "nbgrader release"),
                         ("grader/references/", "grader references"), ("grader/", "grader"), ("mnist_course/", "mnist_course")):
        if path.startswith(prefix):
            return kind
    return "docs"


FENCE = re.compile(r"^[ \t]*```[^\n]*\n(.*?)^[ \t]*```", re.MULTILINE | re.DOTALL)


def python_units(path: str, source: str) -> list[Unit]:
    """Each function (methods and nested ones too), the module's top level (everything
    outside a function), and each docstring (as docs)."""
    kind = kind_of(path)
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return [Unit(kind, path, f"{path} (does not parse)", source)]
    found, inside, lines = [], set(), source.splitlines()
    for name, node in _functions(tree):
        first = min([node.lineno] + [d.lineno for d in node.decorator_list])
        found.append(Unit(kind, path, f"{path}, {name}()", "\n".join(lines[first - 1:node.end_lineno])))
        inside |= set(range(first, (node.end_lineno or node.lineno) + 1))
    top = "\n".join(line for number, line in enumerate(lines, start=1) if number not in inside)
    found.append(Unit(kind, path, f"{path}, top level", top))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            text = ast.get_docstring(node, clean=True)
            if text:
                owner = "the module" if isinstance(node, ast.Module) else f"{node.name}()"
                found.append(Unit("docs", path, f"{path}, docstring of {owner}", text))
    return found


def markdown_units(path: str, text: str) -> list[Unit]:
    return [Unit("docs", path, f"{path}, code block {n}", code) for n, code in enumerate(FENCE.findall(text), start=1)]


def notebook_units(path: str, notebook: dict) -> list[Unit]:
    """Every code cell (numbered from 1 among all cells, as Jupyter shows them), and each
    Markdown cell's fenced code as docs."""
    found = []
    for n, cell in enumerate(notebook.get("cells", []), start=1):
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        if cell.get("cell_type") == "code":
            found.append(Unit(kind_of(path), path, f"{path}, cell {n}", source))
        elif cell.get("cell_type") == "markdown":
            found += [Unit("docs", path, f"{path}, cell {n}, code block {m}", code) for m, code in enumerate(FENCE.findall(source), start=1)]
    return found


def units(folder: Path, prefix: str = "") -> list[Unit]:
    """Every code unit of the .py, .ipynb and .md files below `folder` (a starter, or
    nbgrader's release with prefix "release/")."""
    found = []
    for file in sorted(folder.rglob("*")):
        if not file.is_file() or "__pycache__" in file.parts:
            continue
        path = prefix + file.relative_to(folder).as_posix()
        if file.suffix == ".py":
            found += python_units(path, file.read_text(encoding="utf-8"))
        elif file.suffix == ".ipynb":
            found += notebook_units(path, json.loads(file.read_text(encoding="utf-8")))
        elif file.suffix == ".md":
            found += markdown_units(path, file.read_text(encoding="utf-8"))
    return found


def nbgrader_release(source: Path, out: Path) -> Path:
    """What `nbgrader generate_assignment` releases from each source notebook, written
    below `out` by nbgrader's own preprocessors in this process: the solutions cleared
    from the answer cells, the hidden tests and the outputs removed."""
    import nbformat
    from nbgrader.preprocessors import ClearHiddenTests, ClearOutput, ClearSolutions

    for notebook_path in sorted(source.glob("*/*.ipynb")):
        notebook = nbformat.read(notebook_path, as_version=4)
        for step in (ClearSolutions(), ClearHiddenTests(), ClearOutput()):
            notebook, _ = step.preprocess(notebook, {})
        target = out / notebook_path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, target)
    return out


# ------------------------------------------------------------------ the comparison


@dataclass(frozen=True)
class Finding:
    share: float
    reference: Reference
    unit: Unit

    def __str__(self) -> str:
        return f"{self.unit.where} holds {self.share:.0%} of {self.reference.name} ({self.reference.where})"


@dataclass
class Scan:
    """Every reference compared with every unit, once."""

    references: list[Reference]
    units: list[Unit]
    shares: dict[tuple[int, int], float] = field(default_factory=dict)  # (reference, unit) index -> share

    def __post_init__(self):
        for r, ref in enumerate(self.references):
            if not ref.searchable:
                continue
            for u, unit in enumerate(self.units):
                if unit.path != ref.home and ref.fingerprints & unit.prints(ref.configuration):
                    self.shares[r, u] = ref.share(unit)

    def findings(self, threshold: float | None = None) -> list[Finding]:
        """Every unit holding a reference at or over `threshold` (default: the reference's
        own, THRESHOLD or KERAS_THRESHOLD), highest share first."""
        found = [
            Finding(share, self.references[r], self.units[u])
            for (r, u), share in self.shares.items()
            if share >= (self.references[r].threshold if threshold is None else threshold)
        ]
        return sorted(found, key=lambda f: (-f.share, f.reference.where, f.unit.where))

    def highest(self, ref: Reference, kind: str) -> Finding | None:
        """The unit of one kind that holds the most of a reference."""
        r = self.references.index(ref)
        best = max(((share, u) for (i, u), share in self.shares.items() if i == r and self.units[u].kind == kind), default=None)
        return Finding(best[0], ref, self.units[best[1]]) if best else None

    def table(self) -> str:
        """The highest share of each reference in each kind of unit, as a Markdown table."""
        kinds = [k for k in KINDS if any(u.kind == k for u in self.units)]
        rows = ["| graded function | reference | prints | " + " | ".join(kinds) + " |", "|" + "---|" * (3 + len(kinds))]
        for ref in self.references:
            if not ref.searchable:
                cells = ["too short"] * len(kinds)
            else:
                cells = [f"{best.share:.2f}" if (best := self.highest(ref, kind)) else "0" for kind in kinds]
            rows.append(f"| {ref.name} | {ref.where} | {ref.prints} | " + " | ".join(cells) + " |")
        return "\n".join(rows)


def what_a_student_receives(out: Path, course: Course | None = None, root: Path = ROOT) -> list[Unit]:
    """The units of the starter and of nbgrader's release, both written below `out`
    (in this process: no git, no nbgrader command)."""
    from .starter import walked_files, write_starter

    course = course or load_course()
    write_starter(out / "starter", root=root, course=course, files=walked_files(root))
    release = nbgrader_release(root / "platforms" / "nbgrader" / "source", out / "release")
    return units(out / "starter") + units(release, "release/")


def main(argv: list[str] | None = None) -> int:
    import tempfile

    argv = sys.argv[1:] if argv is None else argv
    threshold = float(argv[0]) if argv else None
    course = load_course()
    with tempfile.TemporaryDirectory() as tmp:
        scan = Scan(references(course), what_a_student_receives(Path(tmp), course))
    print(scan.table())
    print(f"\nAt or over {threshold or f'{THRESHOLD} (code) and {KERAS_THRESHOLD} (Keras declarations)'}:")
    for finding in scan.findings(threshold):
        print(f"  {finding.share:.2f}  {finding}")
    for answer in grader_answers(course):
        state = "cannot be pasted: uses " + ", ".join(answer.refused) if answer.refused else "a student could paste it"
        print(f"grader's answer to {answer.exercise}.{answer.function}: {answer.where}: {state}")
    print(f"\n{len(scan.units)} units, {len(scan.references)} references")
    return 0


if __name__ == "__main__":
    sys.exit(main())
