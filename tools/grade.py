#!/usr/bin/env python3
"""Grade a folder of submitted notebooks: ``make grade SUBMISSIONS=path/to/folder/``.

Every ``.ipynb`` under the folder is one submission. For each one the gradebook

1. finds the chapter it belongs to, from the exercise labels it contains (``ex-heun-step``; the
   file name is used only to break a tie), and takes that chapter's coding exercises, with
   their numbers and checks, from ``chapters/*.ipynb`` of this course;
2. copies the notebook alone into a new temporary folder and runs it there, top to bottom, in a
   fresh Jupyter kernel of the course's environment, with ``MPLBACKEND=Agg``. A cell that
   raises does not stop the run: the following cells run too, so one broken exercise does not
   hide the others. The whole notebook has a time limit (``--timeout``, 600 s by default);
   past it the kernel and everything it started are killed;
3. reads the outcome of every exercise's check cell (the cell calling ``nodelib.checks``):

   - ``passed``: the check ran without error;
   - ``failed``: the check raised ``AssertionError``; its message (what is wrong, with a hint)
     goes into the gradebook;
   - ``not attempted``: the exercise still holds the student edition's stub
     (``raise NotImplementedError(...)``), so its check says "not implemented yet";
   - ``error``: anything else: the check or the exercise cell raised another exception (a
     syntax error, a name error), the check cell was deleted, the notebook is not a notebook,
     the time limit ran out before the check ran, or the kernel died.

It writes ``grades.csv`` (``--out``), one row per submission and exercise, and prints a summary
table with one line per submission. The run itself succeeds (exit 0) whatever the students'
results; it exits 2 when there is nothing to grade.

**This runs the students' code on your machine, with your permissions.** Each submission runs
in its own temporary copy, so a notebook that deletes the files around it, hangs or crashes its
kernel does not affect the others, but nothing stops it from reading or deleting your other
files or using the network. Run it in a container or an account that holds nothing you mind
losing.

Usage::

    python tools/grade.py SUBMISSIONS [--out grades.csv] [--timeout 600] [--jobs 1]
"""
from __future__ import annotations

import argparse
import concurrent.futures
import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_student  # noqa: E402 - a sibling script, found through the path set just above

REPO_ROOT = Path(__file__).resolve().parent.parent
STATUSES = ("passed", "failed", "not attempted", "error")
SYMBOLS = {"passed": "ok", "failed": "FAIL", "not attempted": "-", "error": "ERR"}
STUB_LINE = "raise NotImplementedError("
NOT_IMPLEMENTED = "not implemented yet"
_CHECK_CALL = re.compile(r"nodelib\.checks\.(\w+)\(")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
MESSAGE_CHARS = 400  # the longest message kept in grades.csv


@dataclass(frozen=True)
class Exercise:
    chapter: str   # the chapter's file stem, e.g. "02_euler"
    number: str    # as the book prints it, e.g. "2.2"
    label: str     # e.g. "ex-heun-step"
    check: str     # the nodelib.checks function, e.g. "check_heun_step"


@dataclass
class Row:
    submission: str
    chapter: str
    exercise: str
    label: str
    status: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return dict(self.__dict__)


# What the course asks for -------------------------------------------------------------------

def _text(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def course_exercises(root: Path = REPO_ROOT) -> dict[str, list[Exercise]]:
    """The coding exercises of every chapter of the course, by chapter stem, in order."""
    found = {}
    for path in sorted((root / "chapters").glob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        prefix = path.name.split("_", 1)[0]
        chapter = int(prefix) if prefix.isdigit() else None
        exercises = []
        for exercise in make_student.find_exercises(nb, chapter):
            check = _CHECK_CALL.search(_text(nb["cells"][exercise["check"]]))
            exercises.append(Exercise(path.stem, exercise["number"], exercise["label"],
                                      check.group(1) if check else "?"))
        if exercises:
            found[path.stem] = exercises
    return found


def match_chapter(nb: dict, filename: str, course: dict[str, list[Exercise]]) -> str | None:
    """The chapter a submission belongs to: the one sharing most exercise labels with it."""
    labels = set(make_student.exercise_numbers(nb))
    scores = {stem: len(labels & {e.label for e in exercises})
              for stem, exercises in course.items()}
    best = max(scores.values(), default=0)
    if best == 0:
        return None
    tied = [stem for stem, score in scores.items() if score == best]
    return next((stem for stem in tied if stem in filename), tied[0])


def check_cells(nb: dict) -> dict[str, int]:
    """Map each exercise label of a notebook to the index of its check cell.

    The check cell of an exercise is the first code cell calling ``nodelib.checks`` after the
    exercise's ``{exercise}`` directive and before the next one.
    """
    found, label = {}, None
    numbers = iter(make_student.exercise_numbers(nb))
    for index, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") == "markdown":
            for name, *_ in make_student._directive_blocks(_text(cell)):
                if name == "exercise":
                    label = next(numbers, None)
        elif label and label not in found and _CHECK_CALL.search(_text(cell)):
            found[label] = index
    return found


# Running one submission (in the child process) ------------------------------------------------

def _error_of(cell) -> dict:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return {"ename": output.get("ename", ""),
                    "evalue": _ANSI.sub("", output.get("evalue", ""))}
    return {"ename": "Error", "evalue": "the cell failed without an error output"}


def run_notebook(path: Path, result_path: Path, cell_timeout: int) -> int:
    """Execute every code cell of ``path`` in a fresh kernel, going on after errors.

    Writes, after every cell, ``{"kernel_pid", "cells": {index: {"ok", "ename", "evalue"}},
    "running", "died"}`` as JSON to ``result_path``, so that the parent knows how far a notebook
    got when it has to kill it.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=cell_timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    result = {"kernel_pid": None, "cells": {}, "running": None, "died": None, "timed_out": None}

    def save():
        tmp = result_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(result), encoding="utf-8")
        tmp.replace(result_path)

    client.reset_execution_trackers()
    with client.setup_kernel():
        provisioner = getattr(client.km, "provisioner", None)
        result["kernel_pid"] = getattr(provisioner, "pid", None)
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            result["running"] = index
            save()
            try:
                client.execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
                result["cells"][str(index)] = {"ok": True}
            except CellTimeoutError:
                result["timed_out"] = index
                result["cells"][str(index)] = {"ok": False, "ename": "TimeoutError",
                                               "evalue": f"the cell ran past {cell_timeout} s"}
                break
            except CellExecutionError:
                result["cells"][str(index)] = {"ok": False, **_error_of(cell)}
            except DeadKernelError as error:
                result["died"] = index
                result["cells"][str(index)] = {"ok": False, "ename": "DeadKernelError",
                                               "evalue": str(error)}
                break
        result["running"] = None
        save()
    return 0


# Running every submission (in the parent) ----------------------------------------------------

def _kill_group(pid: int | None) -> None:
    if not pid:
        return
    try:
        os.killpg(os.getpgid(pid), signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def execute_submission(path: Path, timeout: int) -> tuple[dict, str | None]:
    """Run a copy of ``path`` in a temporary folder; return (result, why it stopped early)."""
    tmp = Path(tempfile.mkdtemp(prefix="grade-"))
    try:
        work = tmp / "work"
        work.mkdir()
        copy = work / path.name
        shutil.copy2(path, copy)
        result_path = tmp / "result.json"
        env = {**os.environ, "MPLBACKEND": "Agg", "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
        command = [sys.executable, str(Path(__file__).resolve()), "--run-one", str(copy),
                   "--result", str(result_path), "--timeout", str(timeout)]
        stopped = None
        with subprocess.Popen(command, cwd=work, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True,
                              start_new_session=True) as process:
            try:
                output, _ = process.communicate(timeout=timeout + 30)
            except subprocess.TimeoutExpired:
                stopped = f"the notebook ran past its time limit of {timeout} s"
                output = ""
            finally:
                partial = _read_result(result_path)
                _kill_group(partial.get("kernel_pid"))
                _kill_group(process.pid)
                process.communicate()
        result = _read_result(result_path)
        if result.get("timed_out") is not None:
            stopped = (f"the notebook ran past its time limit of {timeout} s "
                       f"(in cell {result['timed_out']})")
        if not result["cells"] and stopped is None and process.returncode != 0:
            stopped = "the notebook could not be run: " + _last_line(_ANSI.sub("", output))
        return result, stopped
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _read_result(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"kernel_pid": None, "cells": {}, "running": None, "died": None, "timed_out": None}


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 3] + "..."


def exercise_row(name: str, exercise: Exercise, nb: dict, cells: dict[str, int],
                 result: dict, stopped: str | None) -> Row:
    """The gradebook row of one exercise of one submission."""
    def row(status, message=""):
        return Row(name, exercise.chapter, exercise.number, exercise.label, status, _short(message))

    index = cells.get(exercise.label)
    if index is None:
        return row("error", f"the check cell (nodelib.checks.{exercise.check}) of this exercise "
                            "is missing from the notebook")
    outcome = result["cells"].get(str(index))
    if outcome is None:
        running = result.get("running")
        where = f" (cell {running} was running)" if running is not None else ""
        if result.get("died") is not None:
            return row("error", f"the kernel died at cell {result['died']}, before this check")
        return row("error", f"{stopped or 'the run stopped'} before this check ran{where}")
    if outcome["ok"]:
        return row("passed")
    ename, evalue = outcome.get("ename", ""), outcome.get("evalue", "")
    # The exercise's own cell: the nearest code cell before the check.
    code = [i for i, c in enumerate(nb["cells"][:index]) if c.get("cell_type") == "code"]
    before = result["cells"].get(str(code[-1])) if code else None
    stub = bool(code) and STUB_LINE in _text(nb["cells"][code[-1]])
    if stub and NOT_IMPLEMENTED in evalue:
        return row("not attempted", "the exercise still holds the student edition's stub")
    if ename == "AssertionError":
        return row("failed", evalue)
    if before is not None and not before["ok"]:
        return row("error", f"the exercise cell raised {before.get('ename')}: "
                            f"{before.get('evalue')}; then the check raised {ename}: {evalue}")
    return row("error", f"the check raised {ename}: {evalue}")


def grade_submission(path: Path, base: Path, course: dict[str, list[Exercise]],
                     timeout: int) -> tuple[list[Row], float]:
    """Run one submission and return its gradebook rows and how long it took."""
    name = path.relative_to(base).as_posix()
    start = time.perf_counter()
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
            raise ValueError("no list of cells")
    except (OSError, ValueError, UnicodeDecodeError) as error:
        return [Row(name, "?", "-", "-", "error", _short(f"not a readable notebook: {error}"))], 0.0
    chapter = match_chapter(nb, path.name, course)
    if chapter is None:
        return [Row(name, "?", "-", "-", "error",
                    "no exercise of the course found in this notebook (no {exercise} label of "
                    "chapters/*.ipynb): is it a chapter of the course?")], 0.0
    result, stopped = execute_submission(path, timeout)
    cells = check_cells(nb)
    rows = [exercise_row(name, exercise, nb, cells, result, stopped)
            for exercise in course[chapter]]
    return rows, time.perf_counter() - start


# Output ---------------------------------------------------------------------------------------

def write_csv(rows: list[Row], out: Path) -> None:
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(Row.__dataclass_fields__))
        writer.writeheader()
        writer.writerows(row.as_dict() for row in rows)


def summary(rows: list[Row], seconds: dict[str, float]) -> str:
    """One line per submission: the status of each exercise and the number passed."""
    by_submission: dict[str, list[Row]] = {}
    for row in rows:
        by_submission.setdefault(row.submission, []).append(row)
    width = max([len("submission")] + [len(name) for name in by_submission])
    lines = [f"{'submission':<{width}}  {'chapter':<14}  {'passed':>6}  {'time':>6}  exercises"]
    for name, items in by_submission.items():
        passed = sum(r.status == "passed" for r in items)
        marks = "  ".join(f"{r.exercise} {SYMBOLS[r.status]}" for r in items)
        lines.append(f"{name:<{width}}  {items[0].chapter:<14}  {passed:>2}/{len(items):<3}  "
                     f"{seconds.get(name, 0.0):5.0f}s  {marks}")
    counts = {status: sum(r.status == status for r in rows) for status in STATUSES}
    lines.append("legend: ok passed, FAIL failed, - not attempted, ERR error (see grades.csv); "
                 + ", ".join(f"{count} {status}" for status, count in counts.items()))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submissions", type=Path, nargs="?", help="folder of .ipynb files")
    parser.add_argument("--out", type=Path, default=Path("grades.csv"),
                        help="the gradebook to write (default: grades.csv)")
    parser.add_argument("--timeout", type=int, default=600,
                        help="time limit of one submission, in seconds (default: 600)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="submissions run at the same time (default: 1)")
    parser.add_argument("--run-one", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_one:
        return run_notebook(args.run_one, args.result, args.timeout)
    if args.submissions is None or not args.submissions.is_dir():
        print(f"error: {args.submissions} is not a folder; give the folder holding the submitted "
              "notebooks: make grade SUBMISSIONS=path/to/folder/", file=sys.stderr)
        return 2
    base = args.submissions.resolve()
    paths = sorted(p for p in base.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    if not paths:
        print(f"error: no .ipynb file under {base}", file=sys.stderr)
        return 2
    course = course_exercises()
    print(f"grading {len(paths)} submission(s) from {base}: each runs in a fresh kernel, in its "
          f"own temporary folder, for at most {args.timeout} s", flush=True)
    rows, seconds = [], {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(grade_submission, path, base, course, args.timeout)
                   for path in paths]
        for future in futures:
            graded, took = future.result()
            rows += graded
            seconds[graded[0].submission] = took
            passed = sum(r.status == "passed" for r in graded)
            print(f"  {graded[0].submission}: {passed}/{len(graded)} passed ({took:.0f} s)",
                  flush=True)
    write_csv(rows, args.out)
    print()
    print(summary(rows, seconds))
    print(f"\nwrote {args.out} ({len(rows)} rows: one per submission and exercise)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
