#!/usr/bin/env python3
"""Make the student edition of the course: the chapters with solutions stripped, checks kept.

Usage::

    python tools/make_student.py                   # chapters/*.ipynb -> student/chapters/
    python tools/make_student.py --branch student --out student/chapters chapters/02_euler.ipynb

``make student`` runs the first form. For each chapter notebook the student edition

- replaces the answer lines of every solution cell, those between ``# BEGIN SOLUTION`` and
  ``# END SOLUTION``, by ``raise NotImplementedError("Exercise N.k: ...")`` at the same
  indentation (signatures and docstrings outside the markers stay);
- drops the solution directives (``{solution}`` blocks, ``{solution-start}``/``{solution-end}``
  cells) and any markdown between a start and its end, so no solution is left to unfold;
- keeps the exercises and the check cells (``nodelib.checks.check_...``), so learners can test
  their answers; a stub fails its check with "not implemented yet";
- strips all outputs and execution counts;
- rewrites the Colab set-up cell to install nodelib from the student branch, so that a notebook
  and the library it was generated with travel together.

Handing it out. The book (``make book``) shows the solutions, hidden in dropdowns; students get
the stripped notebooks from a branch of the course repository, ``student`` by default::

    git switch -c student                       # a branch holding the whole course
    make student                                # writes student/chapters/*.ipynb
    cp student/chapters/*.ipynb chapters/       # the stripped chapters replace the originals
    git commit -am "Student edition" && git push -u origin student

Each notebook then opens in Colab from a link of the form::

    https://colab.research.google.com/github/<org>/<repo>/blob/<branch>/chapters/<file>

and the script writes these links, one per chapter, to ``student/README.md`` (next to the output
folder) for the course page or the learning platform. Regenerate and push the branch whenever
the chapters change.

The module is importable: :func:`make_student_notebook` transforms one notebook (a dict as
loaded by ``json``), :func:`find_exercises` lists the coding exercises of a notebook (the tests
use it to prove each check is real), and :func:`main` is the command line.
"""
from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "# BEGIN SOLUTION", "# END SOLUTION"
COLAB_MARKER = "# Colab set-up:"
SOLUTION_DIRECTIVES = ("solution", "solution-start", "solution-end")
_FENCE = re.compile(r"^\s*(`{3,}|:{3,})\{([\w-]+)\}\s*(.*)$")
_INSTALL = re.compile(r'git\+(?P<url>\S+?)@(?P<ref>[\w./-]+)"')


def _text(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _set_text(cell: dict, text: str) -> None:
    cell["source"] = text.splitlines(keepends=True)


def _directive_blocks(text: str):
    """Yield ``(name, argument, first_line, last_line)`` for each top-level MyST directive.

    A directive opens with a fence of backticks or colons followed by ``{name}`` and closes with
    a line holding the same fence character, at least as many times, and nothing else.
    """
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        fence, name, argument = match.groups()
        closing = re.compile(rf"^\s*{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        end = next((j for j in range(i + 1, len(lines)) if closing.match(lines[j])), len(lines) - 1)
        yield name, argument.strip(), i, end
        i = end + 1


def exercise_numbers(nb: dict, chapter: int | None = None) -> dict[str, tuple[str, str]]:
    """Map each exercise label to ``(number, title)``, numbered in order of appearance.

    ``number`` is ``"<chapter>.<k>"`` (as the book numbers them) when ``chapter`` is given,
    otherwise ``"<k>"``.
    """
    found = {}
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        text = _text(cell)
        for name, title, first, last in _directive_blocks(text):
            if name != "exercise":
                continue
            body = text.splitlines()[first + 1:last]
            label = next((line.split(":label:", 1)[1].strip() for line in body
                          if line.strip().startswith(":label:")), f"exercise-{len(found) + 1}")
            k = len(found) + 1
            found[label] = (f"{chapter}.{k}" if chapter is not None else str(k), title)
    return found


def _strip_solution_directives(text: str) -> str:
    """Remove every ``{solution}``/``{solution-start}``/``{solution-end}`` block from markdown."""
    lines = text.splitlines(keepends=True)
    drop = set()
    for name, _, first, last in _directive_blocks(text):
        if name in SOLUTION_DIRECTIVES:
            drop.update(range(first, last + 1))
    return "".join(line for i, line in enumerate(lines) if i not in drop).strip("\n")


def _gate(cell: dict) -> str | None:
    """``"start"``/``"end"`` for a markdown cell holding a solution-start/-end directive."""
    if cell.get("cell_type") != "markdown":
        return None
    names = [name for name, *_ in _directive_blocks(_text(cell))]
    if "solution-start" in names:
        return "start"
    if "solution-end" in names:
        return "end"
    return None


def _gate_label(cell: dict) -> str:
    """The exercise label named by a ``{solution-start}`` directive."""
    for name, argument, *_ in _directive_blocks(_text(cell)):
        if name == "solution-start":
            return argument
    return ""


def _string_literal(text: str) -> str:
    """A Python string literal for ``text``, in double quotes when possible."""
    return f'"{text}"' if '"' not in text and "\\" not in text else repr(text)


def stub_solution(source: str, message: str) -> str:
    """Replace each ``# BEGIN SOLUTION`` ... ``# END SOLUTION`` block by a NotImplementedError.

    The ``raise`` keeps the indentation of the ``# BEGIN SOLUTION`` line.

    Raises:
        ValueError: if a block is not closed.
    """
    out, inside = [], False
    for line in source.splitlines(keepends=True):
        stripped = line.strip()
        if stripped == BEGIN:
            if inside:
                raise ValueError(f"nested {BEGIN!r} in:\n{source}")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}# Your code here: replace the next line with your solution.\n")
            out.append(f"{indent}raise NotImplementedError({_string_literal(message)})\n")
        elif stripped == END:
            if not inside:
                raise ValueError(f"{END!r} without {BEGIN!r} in:\n{source}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{BEGIN!r} without {END!r} in:\n{source}")
    return "".join(out).rstrip("\n")


def colab_cell_for_student(source: str, branch: str) -> str:
    """The Colab set-up cell of the student edition: nodelib installed from ``branch``."""
    match = _INSTALL.search(source)
    if not match:
        raise ValueError(f"cannot find the nodelib install line in the Colab cell:\n{source}")
    url = match.group("url")
    lines = source.splitlines()
    lines.insert(1, f"# Student edition: nodelib comes from the {branch!r} branch, "
                    "like this notebook.")
    return "\n".join(lines).replace(f"git+{url}@{match.group('ref')}", f"git+{url}@{branch}")


def find_exercises(nb: dict, chapter: int | None = None) -> list[dict]:
    """The coding exercises of a notebook, in order.

    Returns:
        One dict per solution cell (a code cell with ``# BEGIN SOLUTION``): ``label``,
        ``number``, ``title``, ``solution`` (index of that cell) and ``check`` (index of the next
        code cell, which must call ``nodelib.checks``).

    Raises:
        ValueError: if a solution cell is not followed by a check cell.
    """
    numbers = exercise_numbers(nb, chapter)
    cells, found, label = nb.get("cells", []), [], ""
    for i, cell in enumerate(cells):
        if _gate(cell) == "start":
            label = _gate_label(cell)
        if cell.get("cell_type") != "code" or BEGIN not in _text(cell):
            continue
        check = next((j for j in range(i + 1, len(cells)) if cells[j]["cell_type"] == "code"), None)
        if check is None or "nodelib.checks." not in _text(cells[check]):
            raise ValueError(f"the solution cell {i} ({label or 'no label'}) is not followed by "
                             "a check cell calling nodelib.checks")
        number, title = numbers.get(label, ("?", ""))
        found.append(dict(label=label, number=number, title=title, solution=i, check=check))
    return found


def _student_cell(cell: dict, message: str, inside_gate: bool) -> dict | None:
    """The student version of one cell, or ``None`` to drop it."""
    cell = copy.deepcopy(cell)
    text = _text(cell)
    if cell["cell_type"] == "markdown":
        if inside_gate:
            return None
        stripped = _strip_solution_directives(text)
        if not stripped.strip():
            return None
        _set_text(cell, stripped)
        return cell
    if cell["cell_type"] == "code":
        cell["outputs"], cell["execution_count"] = [], None
        if BEGIN in text:
            _set_text(cell, stub_solution(text, message))
        elif inside_gate:
            raise ValueError("a code cell between solution-start and solution-end has no "
                             f"{BEGIN!r} markers, so its answer would leak:\n{text}")
    return cell


def make_student_notebook(nb: dict, *, chapter: int | None = None, branch: str = "student") -> dict:
    """Return the student edition of a chapter notebook (the input is not modified).

    Args:
        nb: the notebook as a dict (``json.load`` of an ``.ipynb``).
        chapter: the chapter number, used to number the stubs' messages like the book does
            (``Exercise 2.3``); ``None`` numbers them within the notebook only.
        branch: the branch the student edition is published on; the Colab cell installs
            nodelib from it.

    Returns:
        A new notebook dict.

    Raises:
        ValueError: on unbalanced solution markers or an unprotected code cell inside a
            solution gate.
    """
    numbers = exercise_numbers(nb, chapter)
    student = copy.deepcopy(nb)
    cells, label, inside = [], "", False
    for cell in nb.get("cells", []):
        gate = _gate(cell)
        if gate == "start":
            label, inside = _gate_label(cell), True
            continue
        if gate == "end":
            inside = False
            continue
        number, title = numbers.get(label, ("?", "this exercise"))
        message = f"Exercise {number}: {title} is not implemented yet"
        new = _student_cell(cell, message, inside)
        if new is None:
            continue
        if new["cell_type"] == "code" and _text(new).lstrip().startswith(COLAB_MARKER):
            _set_text(new, colab_cell_for_student(_text(new), branch))
        cells.append(new)
    student["cells"] = cells
    return student


def colab_link(repo_url: str, branch: str, filename: str) -> str:
    """The Colab address of ``chapters/<filename>`` on ``branch`` of a GitHub repository."""
    org_repo = repo_url.rstrip("/").split("github.com/", 1)[-1].removesuffix(".git")
    return f"https://colab.research.google.com/github/{org_repo}/blob/{branch}/chapters/{filename}"


def _chapter_number(path: Path) -> int | None:
    prefix = path.name.split("_", 1)[0]
    return int(prefix) if prefix.isdigit() else None


def _write_links(out: Path, links: list[tuple[str, str]], branch: str) -> Path:
    readme = out.parent / "README.md"
    lines = [f"# Student edition (branch `{branch}`)", "",
             "Open each chapter in Google Colab:", ""]
    lines += [f"- [{name}]({link})" for name, link in links]
    readme.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return readme


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="chapter notebooks (default: chapters/*.ipynb)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "student" / "chapters",
                        help="output folder (default: student/chapters)")
    parser.add_argument("--branch", default="student",
                        help="branch the student edition is published on (default: student)")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((REPO_ROOT / "chapters").glob("*.ipynb"))
    args.out.mkdir(parents=True, exist_ok=True)
    links = []
    for path in paths:
        nb = json.loads(path.read_text(encoding="utf-8"))
        student = make_student_notebook(nb, chapter=_chapter_number(path), branch=args.branch)
        text = json.dumps(student, indent=1, ensure_ascii=False) + "\n"
        assert BEGIN not in text, f"{path.name}: a solution survived"
        (args.out / path.name).write_text(text, encoding="utf-8")
        colab = next((c for c in student["cells"] if _text(c).lstrip().startswith(COLAB_MARKER)),
                     None)
        match = _INSTALL.search(_text(colab)) if colab else None
        if match:
            links.append((path.name, colab_link(match.group("url"), args.branch, path.name)))
        print(f"wrote {args.out / path.name} ({len(find_exercises(nb))} coding exercises stubbed)")
    if links:
        print(f"wrote {_write_links(args.out, links, args.branch)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
