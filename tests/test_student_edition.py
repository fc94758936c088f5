"""The student edition and the exercise checks.

For every coding exercise of every chapter this proves that the check is real: the chapter's
solution cell passes its check, and the stub that ``tools/make_student.py`` puts in its place
fails it with an ``AssertionError``. It also checks that the generated notebooks keep the
exercises and checks and leak no solution. Only the solution and check cells are executed here
(the solution cells are self-contained); whole notebooks run under nbval.
"""
from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import re
from pathlib import Path

import nbformat
import pytest

import nodelib

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))


def _load_tool():
    path = ROOT / "tools" / "make_student.py"
    spec = importlib.util.spec_from_file_location("make_student", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_student = _load_tool()


def _notebook(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _chapter(path: Path) -> int | None:
    prefix = path.name.split("_", 1)[0]
    return int(prefix) if prefix.isdigit() else None


def _source(cell: dict) -> str:
    source = cell["source"]
    return "".join(source) if isinstance(source, list) else source


def _run(source: str, namespace: dict) -> str:
    """Execute a code cell's source in ``namespace``; return what it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(source, "<notebook cell>", "exec"), namespace)  # noqa: S102 - our own cells
    return out.getvalue()


CASES = [(path, exercise) for path in NOTEBOOKS
         for exercise in make_student.find_exercises(_notebook(path), _chapter(path))]
IDS = [f"{path.stem}::{exercise['label']}" for path, exercise in CASES]


def test_there_are_coding_exercises():
    assert len(CASES) >= 4, "expected the coding exercises of chapters 1 and 2"


@pytest.mark.parametrize("path, exercise", CASES, ids=IDS)
def test_solution_passes_its_check(path, exercise):
    cells = _notebook(path)["cells"]
    namespace = {"nodelib": nodelib}
    _run(_source(cells[exercise["solution"]]), namespace)
    printed = _run(_source(cells[exercise["check"]]), namespace)
    assert "passed" in printed, f"the check printed no success line: {printed!r}"


@pytest.mark.parametrize("path, exercise", CASES, ids=IDS)
def test_student_stub_fails_its_check(path, exercise):
    nb = _notebook(path)
    student = make_student.make_student_notebook(nb, chapter=_chapter(path))
    by_id = {cell["id"]: cell for cell in student["cells"]}
    stub = _source(by_id[nb["cells"][exercise["solution"]]["id"]])
    check = _source(by_id[nb["cells"][exercise["check"]]["id"]])
    assert f'NotImplementedError("Exercise {exercise["number"]}:' in stub, stub
    assert "BEGIN SOLUTION" not in stub
    namespace = {"nodelib": nodelib}
    _run(stub, namespace)  # defining the stub function must work
    with pytest.raises(AssertionError, match="not implemented yet"):
        _run(check, namespace)


@pytest.mark.parametrize("path, exercise", CASES, ids=IDS)
def test_check_is_a_documented_nodelib_check(path, exercise):
    check = _source(_notebook(path)["cells"][exercise["check"]])
    names = re.findall(r"nodelib\.checks\.(\w+)\(", check)
    assert names, check
    for name in names:
        assert name in nodelib.checks.__all__, f"{name} is not in nodelib.checks.__all__"
        assert getattr(nodelib.checks, name).__doc__, f"nodelib.checks.{name} has no docstring"


def test_every_check_is_used_by_a_chapter():
    used = {name for path, exercise in CASES
            for name in re.findall(r"nodelib\.checks\.(\w+)\(",
                                   _source(_notebook(path)["cells"][exercise["check"]]))}
    assert set(nodelib.checks.__all__) <= used, set(nodelib.checks.__all__) - used


def test_generated_student_notebooks_leak_no_solution(tmp_path):
    out = tmp_path / "student" / "chapters"
    assert make_student.main(["--out", str(out)]) == 0
    for path in NOTEBOOKS:
        text = (out / path.name).read_text(encoding="utf-8")
        for forbidden in ("BEGIN SOLUTION", "END SOLUTION", "{solution}", "{solution-start}",
                          "{solution-end}"):
            assert forbidden not in text, f"{path.name}: {forbidden!r} survived"
        student = nbformat.reads(text, as_version=4)
        nbformat.validate(student)
        original = _notebook(path)
        for directive in ("{exercise}", "nodelib.checks."):
            assert text.count(directive) == json.dumps(original).count(directive), directive
        code = [cell for cell in student.cells if cell.cell_type == "code"]
        assert all(not cell.outputs and cell.execution_count is None for cell in code)
        if code and code[0].source.startswith(make_student.COLAB_MARKER):
            assert "@student\"" in code[0].source and "Student edition" in code[0].source
    readme = (out.parent / "README.md").read_text(encoding="utf-8")
    assert "https://colab.research.google.com/github/" in readme
    assert "/blob/student/chapters/01_resnets.ipynb" in readme


def test_stub_keeps_signature_docstring_and_indentation():
    source = ('def f(x):\n    """Doc."""\n    # BEGIN SOLUTION\n    y = x + 1\n'
              '    return y\n    # END SOLUTION\n')
    stub = make_student.stub_solution(source, "Exercise 9.9: not implemented yet")
    assert stub.startswith('def f(x):\n    """Doc."""\n')
    assert '\n    raise NotImplementedError("Exercise 9.9: not implemented yet")' in stub
    assert "x + 1" not in stub


def test_unprotected_code_inside_a_solution_gate_is_refused():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("```{solution-start} ex-a\n:class: dropdown\n```"),
                nbformat.v4.new_code_cell("answer = 42"),
                nbformat.v4.new_markdown_cell("```{solution-end}\n```")]
    with pytest.raises(ValueError, match="would leak"):
        make_student.make_student_notebook(json.loads(nbformat.writes(nb)))
