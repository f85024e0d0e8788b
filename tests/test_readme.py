"""README.md's commands are the ones CI runs."""

import re

from mnist_course.course import ROOT

README = (ROOT / "README.md").read_text()
CI = (ROOT / ".ci" / "run").read_text()


def _commands():
    section = README.split("## Start in two commands", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section, flags=re.S)


def test_readme_gives_two_commands():
    install, test = _commands()
    assert 'pip install -e ".[dev]"' in install and install.rstrip().endswith("grader")
    assert test.startswith(". .venv/bin/activate && ")


def test_ci_runs_the_readme_test_command_after_a_fresh_install():
    install, test = _commands()
    test_command = test.split("&&")[-1].strip()
    assert re.search(rf"^{re.escape(test_command)}$", CI, flags=re.M), "CI must run the README's test command"
    assert "python3 -m venv .venv" in CI and 'pip install --quiet -e ".[dev]"' in CI
    assert "-eq 5" in CI, "pytest's exit code 5 (no tests) must fail CI"
