"""The grader's draws that a submission must not know in advance (grader/draws.py), without a
worker: a function of the key and the purpose, never of the clock; a class's key made once,
secret to its owner, kept for regrades; the key travels to a child grader and into the batch's
resume key; Gradescope's zip carries a key of its own."""

from __future__ import annotations

import json
import stat
import zipfile
from pathlib import Path

from grader import draws
from grader.provenance import grading_key
from grader.settings import DRAW_KEY_ENV, RunSettings

ROOT = Path(__file__).resolve().parents[1]


def test_a_draw_is_a_function_of_the_key_the_purpose_and_the_parts():
    one = draws.seed("k", "ex03b rerun cells", b"file")
    assert one == draws.seed("k", "ex03b rerun cells", b"file") and 0 <= one < 2**63
    assert len({one, draws.seed("k2", "ex03b rerun cells", b"file"), draws.seed("k", "ex02b permutation", b"file"),
                draws.seed("k", "ex03b rerun cells", b"file2"), draws.seed("k", "ex03b rerun cells", b"fil", b"e2")}) == 5
    assert draws.named(draws.PUBLIC_KEY) == "public"
    assert draws.named("secret").startswith("class key ") and "secret" not in draws.named("secret")


def test_a_class_key_is_made_once_readable_by_its_owner_and_kept(tmp_path):
    key = draws.class_key(tmp_path / "results")
    path = tmp_path / "results" / draws.KEY_FILE
    assert len(key) == 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert draws.class_key(tmp_path / "results") == key  # a regrade draws the same
    assert draws.class_key(tmp_path / "other") != key


def test_the_key_reaches_a_child_grader_and_the_resume_key():
    settings = RunSettings.resolve(environ={DRAW_KEY_ENV: "abc"})
    assert settings.draw_key == "abc" and RunSettings.resolve(environ={}).draw_key == draws.PUBLIC_KEY
    assert RunSettings.resolve(environ=settings.child_environment({DRAW_KEY_ENV: "stale"})).draw_key == "abc"
    assert settings.draw("p", b"x") == draws.seed("abc", "p", b"x")
    assert grading_key(["ex01"], "d", "private", "abc") != grading_key(["ex01"], "d", "private", "abd")  # another key regrades


def test_each_gradescope_zip_carries_a_key_of_its_own(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_zip", ROOT / "platforms" / "gradescope" / "build_zip.py")
    build_zip = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_zip)
    keys = []
    for name in ("a.zip", "b.zip"):
        build_zip.build(tmp_path / name, ["ex01"], 10)
        with zipfile.ZipFile(tmp_path / name) as archive:
            keys.append(json.loads(archive.read("autograder.json"))["draw_key"])
    assert all(len(k) == 32 for k in keys) and keys[0] != keys[1]
