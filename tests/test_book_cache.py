"""The book's execution cache (tools/book_cache.py, run by `make book`): a second build executes
nothing, an edited notebook alone is executed again, a notebook whose cell raises fails and is
never cached, and a change to nodelib empties the cache. On a two-notebook copy of the layout."""
from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load_tool(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


book_cache = _load_tool("book_cache")


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
    code = book_cache.main(["--root", str(root), "--execute", "--jobs", "2"])
    return code, capsys.readouterr().out


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
