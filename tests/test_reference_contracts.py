"""A reference does what its contract says (issue 39, item 6): where a docstring names
settings as `keyword=value` (ex03b's "epochs=2 and batch_size=32"), a call in the
reference's body that passes two or more of them (the training's `fit`, not a
`predict` that only shares `batch_size`) passes those values. The ex03b reference once
trained for 3 epochs against a contract of 2, and the grader's bars were measured on it.
"""

from __future__ import annotations

import ast
import re

import pytest

from mnist_course.course import load_course

COURSE = load_course()
SETTING = re.compile(r"\b([a-z_]+)=(\d+(?:\.\d+)?|\"[^\"]*\"|'[^']*')")


def _disagreements(source: str) -> list[str]:
    """Each `keyword=value` a function's body passes where its docstring names another value."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef):
            continue
        said: dict[str, set] = {}
        for name, value in SETTING.findall(ast.get_docstring(node) or ""):
            said.setdefault(name, set()).add(ast.literal_eval(value))
        for call in (n for n in ast.walk(node) if isinstance(n, ast.Call)):
            if sum(keyword.arg in said for keyword in call.keywords) < 2:
                continue
            for keyword in call.keywords:
                if keyword.arg in said and isinstance(keyword.value, ast.Constant) and keyword.value.value not in said[keyword.arg]:
                    found.append(f"{node.name}(): {keyword.arg}={keyword.value.value!r} where its docstring says "
                                 f"{' or '.join(map(repr, sorted(said[keyword.arg], key=repr)))}")
    return found


@pytest.mark.parametrize("exercise", [ex.id for ex in COURSE.exercises])
def test_every_reference_passes_the_settings_its_docstring_names(exercise):
    assert _disagreements(COURSE.exercise(exercise).solution_path.read_text()) == []


def test_a_reference_that_trains_longer_than_its_contract_is_caught():
    source = COURSE.exercise("ex03b").solution_path.read_text()
    planted = source.replace("epochs=2, batch_size=32, verbose=0", "epochs=3, batch_size=32, verbose=0")
    assert planted != source
    assert _disagreements(planted) == ["validation_accuracy(): epochs=3 where its docstring says 2"]
