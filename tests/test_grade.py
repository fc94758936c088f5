"""The gradebook (`make grade`, tools/grade.py) on a synthetic class.

The class is built from Chapter 2's coding exercises (its exercise, solution and check cells
only, so that each submission runs in seconds): the solutions, the student edition, a partly
solved notebook that also deletes the files around it, a wrong answer, a syntax error, an
infinite loop and a kernel that crashes. Every submission must get the right status for every
exercise, and none may disturb another or the submitted files.
"""
from __future__ import annotations

import copy
import csv
import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHAPTER = ROOT / "chapters" / "02_euler.ipynb"


def _load_tool(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


grade = _load_tool("grade")
make_student = grade.make_student


def _cell(cell_type: str, source: str) -> dict:
    cell = {"cell_type": cell_type, "metadata": {}, "source": source}
    if cell_type == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def _solutions() -> dict:
    """Chapter 2 cut down to its coding exercises: directive, solution and check cells."""
    chapter = json.loads(CHAPTER.read_text(encoding="utf-8"))
    cells = [_cell("markdown", "# Chapter 2, exercises only"),
             _cell("code", "import nodelib")]
    for exercise in make_student.find_exercises(chapter, 2):
        directive = next(c for c in chapter["cells"] if c["cell_type"] == "markdown"
                         and f":label: {exercise['label']}" in grade._text(c))
        for index in (exercise["solution"], exercise["check"]):
            source = grade._text(chapter["cells"][index])
            cells.append(_cell("code", source))
        cells.insert(len(cells) - 2, copy.deepcopy(directive))
    return {"cells": cells, "metadata": chapter["metadata"], "nbformat": 4, "nbformat_minor": 5}


def _code_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def _class(folder: Path) -> dict[str, dict]:
    solutions = _solutions()
    student = make_student.make_student_notebook(solutions, chapter=2)
    # Partly solved: the first exercise left as handed out, the second solved; its first cell
    # deletes every file in its working folder.
    partly = copy.deepcopy(solutions)
    first_solution = _code_cells(partly)[1]
    first_stub = _code_cells(student)[1]
    first_solution["source"] = first_stub["source"]
    _code_cells(partly)[0]["source"] = (
        "import os\nfor name in os.listdir('.'):\n    os.remove(name)\nimport nodelib")
    wrong = copy.deepcopy(solutions)  # an Euler step where Heun's step is asked for
    source = grade._text(_code_cells(wrong)[1])
    begin, end = source.index("# BEGIN SOLUTION"), source.index("# END SOLUTION")
    indent = source[:begin].rsplit("\n", 1)[1]
    _code_cells(wrong)[1]["source"] = (source[:begin] + "return y + dt * f(t, y, args)\n"
                                       + indent + source[end:])
    syntax = copy.deepcopy(solutions)
    _code_cells(syntax)[1]["source"] = grade._text(_code_cells(syntax)[1]) + "\n    return (("
    loop = copy.deepcopy(solutions)
    _code_cells(loop)[0]["source"] = "import nodelib\nwhile True:\n    pass"
    crash = copy.deepcopy(solutions)
    _code_cells(crash)[0]["source"] = "import os\nos._exit(1)"
    notebooks = {"solutions.ipynb": solutions, "student.ipynb": student,
                 "partly_solved.ipynb": partly, "wrong_answer.ipynb": wrong,
                 "syntax_error.ipynb": syntax, "infinite_loop.ipynb": loop,
                 "crash.ipynb": crash}
    for name, nb in notebooks.items():
        (folder / name).write_text(json.dumps(nb, indent=1), encoding="utf-8")
    (folder / "notes.ipynb").write_text("this is not a notebook", encoding="utf-8")
    return notebooks


def test_chapter_matching_and_check_cells():
    course = grade.course_exercises()
    assert [e.label for e in course["02_euler"]] == ["ex-heun-step", "ex-euler-integrate"]
    solutions = _solutions()
    assert grade.match_chapter(solutions, "anything.ipynb", course) == "02_euler"
    cells = grade.check_cells(solutions)
    assert set(cells) == {"ex-heun-step", "ex-euler-integrate"}
    assert all("nodelib.checks." in grade._text(solutions["cells"][i]) for i in cells.values())
    assert grade.match_chapter({"cells": []}, "02_euler.ipynb", course) is None


@pytest.mark.slow
def test_gradebook_on_a_synthetic_class(tmp_path, capsys):
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    _class(submissions)
    before = {p.name: p.read_bytes() for p in submissions.iterdir()}
    out = tmp_path / "grades.csv"

    assert grade.main([str(submissions), "--out", str(out), "--timeout", "60", "--jobs", "2"]) == 0

    printed = capsys.readouterr().out
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    status = {(r["submission"], r["label"]): r["status"] for r in rows}
    message = {(r["submission"], r["label"]): r["message"] for r in rows}
    heun, euler = "ex-heun-step", "ex-euler-integrate"
    expected = {
        ("solutions.ipynb", heun): "passed", ("solutions.ipynb", euler): "passed",
        ("student.ipynb", heun): "not attempted", ("student.ipynb", euler): "not attempted",
        ("partly_solved.ipynb", heun): "not attempted", ("partly_solved.ipynb", euler): "passed",
        ("wrong_answer.ipynb", heun): "failed", ("wrong_answer.ipynb", euler): "passed",
        ("syntax_error.ipynb", heun): "error", ("syntax_error.ipynb", euler): "passed",
        ("infinite_loop.ipynb", heun): "error", ("infinite_loop.ipynb", euler): "error",
        ("crash.ipynb", heun): "error", ("crash.ipynb", euler): "error",
        ("notes.ipynb", "-"): "error",
    }
    assert status == expected, rows
    assert "Euler" in message["wrong_answer.ipynb", heun]        # the check's own hint
    assert "SyntaxError" in message["syntax_error.ipynb", heun]
    assert "time limit of 60 s" in message["infinite_loop.ipynb", heun]
    assert "kernel died" in message["crash.ipynb", heun]
    assert "not a readable notebook" in message["notes.ipynb", "-"]
    # The submissions are untouched, whatever they did when they ran.
    assert {p.name: p.read_bytes() for p in submissions.iterdir()} == before
    # The summary table: one line per submission, with its count of passed exercises.
    assert "solutions.ipynb" in printed and " 2/2 " in printed
    assert printed.count("\n") > len(before)


def test_grade_says_what_to_give(tmp_path, capsys):
    assert grade.main([str(tmp_path / "missing")]) == 2
    assert "SUBMISSIONS" in capsys.readouterr().err
    assert grade.main([str(tmp_path)]) == 2
    assert "no .ipynb file" in capsys.readouterr().err
