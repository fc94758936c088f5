#!/usr/bin/env python3
"""Keep the Colab set-up cell of every chapter in step with ``_config.yml``.

Every chapter notebook starts (first code cell) with a cell tagged ``remove-cell`` that installs
nodelib from the course repository when, and only when, the notebook runs in Google Colab. The
repository url and branch it installs from are those of ``repository:`` in ``_config.yml``, the
single source of truth.

Usage::

    python tools/sync_colab_cells.py          # rewrite the cell in chapters/, appendix/ notebooks
    python tools/sync_colab_cells.py --check  # change nothing; exit 1 and list what disagrees

Notebooks are written back as JSON with one-space indentation, non-ASCII characters kept and a
trailing newline (the layout Jupyter itself uses), so a sync produces small diffs. Outputs are
never added. A notebook that is already in step is not rewritten.
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
MARKER = "# Colab set-up:"
TAG = "remove-cell"
CELL_ID = "colab-setup"


def repository_from_config(config_path: Path) -> tuple[str, str]:
    """Return ``(url, branch)`` from the ``repository:`` section of a Jupyter Book config.

    Raises:
        ValueError: if the section, its url or its branch is missing.
    """
    config = yaml.safe_load(Path(config_path).read_text(encoding="utf-8")) or {}
    repository = config.get("repository") or {}
    url, branch = repository.get("url"), repository.get("branch")
    if not url or not branch:
        raise ValueError(
            f"{config_path} must set repository.url and repository.branch; "
            f"found url={url!r}, branch={branch!r}"
        )
    return str(url).rstrip("/"), str(branch)


def colab_cell_source(url: str, branch: str) -> str:
    """The exact source of the Colab set-up cell for a repository url and branch."""
    return (
        f"{MARKER} installs nodelib when this notebook runs in Google Colab "
        "(does nothing elsewhere).\n"
        "import sys\n"
        'if "google.colab" in sys.modules:\n'
        f'    %pip install -q "nodelib @ git+{url}@{branch}"'
    )


def _source_text(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _source_lines(text: str) -> list[str]:
    """Split a source string the way Jupyter stores it: lines keep their newline."""
    return text.splitlines(keepends=True)


def is_colab_cell(cell: dict) -> bool:
    """True for a code cell that is (an old or current version of) the Colab set-up cell."""
    return cell.get("cell_type") == "code" and _source_text(cell).lstrip().startswith(MARKER)


def _new_cell_id(notebook: dict) -> str:
    used = {cell.get("id") for cell in notebook.get("cells", [])}
    candidate, n = CELL_ID, 1
    while candidate in used:
        n += 1
        candidate = f"{CELL_ID}-{n}"
    return candidate


def _problems(notebook: dict, source: str) -> list[str]:
    """What is wrong with a notebook's Colab cell (empty list when it is in step)."""
    cells = notebook.get("cells", [])
    code = [cell for cell in cells if cell.get("cell_type") == "code"]
    if not code or not is_colab_cell(code[0]):
        if any(is_colab_cell(cell) for cell in code):
            return ["the Colab set-up cell is not the first code cell"]
        return ["no Colab set-up cell (it must be the first code cell)"]
    cell, problems = code[0], []
    if _source_text(cell) != source:
        problems.append("the Colab set-up cell differs from the one _config.yml gives")
    if TAG not in cell.get("metadata", {}).get("tags", []):
        problems.append(f"the Colab set-up cell is not tagged {TAG!r}")
    if cell.get("outputs") or cell.get("execution_count") is not None:
        problems.append("the Colab set-up cell has outputs or an execution count")
    if sum(is_colab_cell(c) for c in code) > 1:
        problems.append("more than one Colab set-up cell")
    return problems


def synced(notebook: dict, source: str) -> dict:
    """Return a copy of ``notebook`` whose first code cell is the Colab cell with ``source``.

    An existing Colab cell keeps its id and its other metadata; a missing one is inserted just
    before the first code cell (or at the end of a notebook without code). Any other copy of the
    cell further down is removed.
    """
    notebook = copy.deepcopy(notebook)
    cells = notebook.setdefault("cells", [])
    old = [cell for cell in cells if is_colab_cell(cell)]
    if old:
        cell = old[0]
    else:  # keys in the order Jupyter writes them
        cell = {"cell_type": "code", "execution_count": None}
        if (notebook.get("nbformat"), notebook.get("nbformat_minor", 0)) >= (4, 5):
            cell["id"] = _new_cell_id(notebook)  # cell ids exist from nbformat 4.5 on
        cell.update(metadata={}, outputs=[], source=[])
    cells[:] = [c for c in cells if not is_colab_cell(c)]
    cell["source"] = _source_lines(source)
    cell["outputs"] = []
    cell["execution_count"] = None
    tags = cell.setdefault("metadata", {}).setdefault("tags", [])
    if TAG not in tags:
        tags.append(TAG)
    first_code = next((i for i, c in enumerate(cells) if c.get("cell_type") == "code"), len(cells))
    cells.insert(first_code, cell)
    return notebook


def dumps(notebook: dict) -> str:
    """Serialise a notebook the way it is stored in the repository."""
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def chapter_notebooks(root: Path = REPO_ROOT) -> list[Path]:
    return sorted((Path(root) / "chapters").glob("*.ipynb"))


def book_notebooks(root: Path = REPO_ROOT) -> list[Path]:
    """Every notebook of the book that opens in Colab: the chapters and the appendix."""
    return chapter_notebooks(root) + sorted((Path(root) / "appendix").glob("*.ipynb"))


def check(root: Path = REPO_ROOT) -> list[str]:
    """Return one message per book notebook whose Colab cell disagrees with ``_config.yml``."""
    root = Path(root)
    source = colab_cell_source(*repository_from_config(root / "_config.yml"))
    messages = []
    for path in book_notebooks(root):
        notebook = json.loads(path.read_text(encoding="utf-8"))
        for problem in _problems(notebook, source):
            messages.append(f"{path.relative_to(root)}: {problem}")
    return messages


def sync(root: Path = REPO_ROOT) -> list[Path]:
    """Rewrite the Colab cell of every book notebook; return the notebooks that changed."""
    root = Path(root)
    source = colab_cell_source(*repository_from_config(root / "_config.yml"))
    changed = []
    for path in book_notebooks(root):
        text = path.read_text(encoding="utf-8")
        notebook = json.loads(text)
        if not _problems(notebook, source):
            continue
        new_text = dumps(synced(notebook, source))
        if new_text != text:
            path.write_text(new_text, encoding="utf-8")
            changed.append(path)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 listing the notebooks that disagree")
    parser.add_argument("--root", type=Path, default=REPO_ROOT,
                        help="repository root (default: the one holding this script)")
    args = parser.parse_args(argv)
    if args.check:
        messages = check(args.root)
        for message in messages:
            print(message)
        if messages:
            print("Run `make colab-sync` to fix.", file=sys.stderr)
            return 1
        print(f"Colab cells in step with _config.yml ({len(book_notebooks(args.root))} notebooks).")
        return 0
    changed = sync(args.root)
    for path in changed:
        print(f"updated {path.relative_to(args.root)}")
    print(f"{len(changed)} notebook(s) updated.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
