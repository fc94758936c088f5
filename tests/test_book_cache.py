"""The book's execution cache (tools/book_cache.py, run by `make book`): a second build executes
nothing, an edited notebook alone is executed again, a notebook whose cell raises fails and is
never cached, and a change to nodelib empties the cache. On a two-notebook copy of the layout."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _write_notebook(path: Path, *sources: str) -> None:
    cells = [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {},
              "outputs": [], "source": source} for i, source in enumerate(sources)]
    nb = {"cells": cells, "nbformat": 4, "nbformat_minor": 5,
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                      "language": "python"}}}
    path.write_text(json.dumps(nb), encoding="utf-8")


@pytest.fixture
def course(tmp_path):
    for folder in ("chapters", "appendix", "nodelib"):
        (tmp_path / folder).mkdir()
    shutil.copy(ROOT / "_config.yml", tmp_path / "_config.yml")
    shutil.copy(ROOT / "requirements.txt", tmp_path / "requirements.txt")
    (tmp_path / "nodelib" / "__init__.py").write_text("VERSION = 1\n", encoding="utf-8")
    _write_notebook(tmp_path / "chapters" / "01_a.ipynb", "print('one')")
    _write_notebook(tmp_path / "appendix" / "faq.ipynb", "print('two')")
    return tmp_path


def _run(root: Path, capsys) -> tuple[int, str]:
    # As `make book` runs it: in a process of its own (its workers are forked, and this test
    # process has JAX's threads running, which a fork must not copy).
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "book_cache.py"), "--root",
                             str(root), "--execute", "--jobs", "2"],
                            capture_output=True, text=True, timeout=600)
    return result.returncode, result.stdout + result.stderr


@pytest.mark.slow
def test_cache_executes_only_what_changed_and_never_a_failure(course, capsys):
    code, out = _run(course, capsys)
    assert code == 0 and "executing 2 notebook(s)" in out, out

    code, out = _run(course, capsys)   # the second build executes nothing
    assert code == 0 and "nothing to execute" in out, out

    _write_notebook(course / "chapters" / "01_a.ipynb", "print('one, edited')")
    code, out = _run(course, capsys)   # an edited notebook runs alone
    assert code == 0 and "executing 1 notebook(s)" in out and "01_a.ipynb" in out, out

    _write_notebook(course / "chapters" / "01_a.ipynb", "raise RuntimeError('broken')")
    for _ in range(2):                 # a raising cell fails every time: it is never cached
        code, out = _run(course, capsys)
        assert code == 1 and "FAILED chapters/01_a.ipynb" in out and "broken" in out, out

    _write_notebook(course / "chapters" / "01_a.ipynb", "print('one')")
    (course / "nodelib" / "__init__.py").write_text("VERSION = 2\n", encoding="utf-8")
    code, out = _run(course, capsys)   # nodelib changed: everything runs again
    assert code == 0 and "nodelib" in out and "executing 2 notebook(s)" in out, out
