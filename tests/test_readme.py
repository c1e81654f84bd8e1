"""Every Python snippet in README.md runs as written, and the shell commands name real things."""

import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
SNIPPETS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_snippets():
    assert len(SNIPPETS) >= 3


@pytest.mark.parametrize("code", SNIPPETS, ids=[f"snippet{i}" for i in range(len(SNIPPETS))])
def test_snippet_runs(code, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(code, str(README), "exec"), {"__name__": "readme"})
    capsys.readouterr()


def test_the_two_commands_match_ci():
    text = README.read_text()
    ci = (README.parent / ".ci" / "run").read_text()
    assert "python -m fastnn.examples.mnist" in text
    assert 'pip install -e ".[test,cuda,plot]"' in text and 'pip install --quiet -e ".[test,cuda,plot]"' in ci
    assert "-m pytest -n 2 --dist loadfile" in text and "-m pytest -q -n 2 --dist loadfile" in ci
