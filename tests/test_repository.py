"""Repository checks: notebooks stored clean, Colab cells in step, table of contents complete,
and the book builds without a single Sphinx warning."""
from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))
PAGE_SUFFIXES = (".ipynb", ".md")  # what a `file:` entry of _toc.yml may point to


def _load_sync_tool():
    path = ROOT / "tools" / "sync_colab_cells.py"
    spec = importlib.util.spec_from_file_location("sync_colab_cells", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sync_tool = _load_sync_tool()


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _toc_files(node) -> list[str]:
    """Every `file:` entry of a Jupyter Book table of contents, in order."""
    files = []
    if isinstance(node, dict):
        if "file" in node:
            files.append(str(node["file"]))
        if "root" in node:
            files.append(str(node["root"]))
        for key in ("parts", "chapters", "sections"):
            for child in node.get(key, []):
                files.extend(_toc_files(child))
    return files


TOC_FILES = _toc_files(yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8")))


def _page_path(entry: str) -> Path | None:
    """The file a table-of-contents entry names (entries may omit the suffix), or None."""
    candidates = [ROOT / entry] + [ROOT / f"{entry}{suffix}" for suffix in PAGE_SUFFIXES]
    return next((path for path in candidates if path.is_file()), None)


# (a) notebooks are stored without outputs ----------------------------------------------------

@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_valid_and_stored_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    dirty = [
        f"cell {i}: {len(cell.get('outputs', []))} output(s), "
        f"execution_count={cell.get('execution_count')}"
        for i, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None)
    ]
    assert not dirty, (
        f"{_rel(path)} is stored with outputs; clear them before committing "
        "(Jupyter: Edit > Clear Outputs of All Cells, or "
        "`jupyter nbconvert --clear-output --inplace <notebook>`):\n" + "\n".join(dirty)
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_chapter_title_is_not_numbered_by_hand(path):
    """_toc.yml numbers the chapters (and so "Exercise 3.2"); a title "# 3. ..." would show "3. 3."."""
    notebook = nbformat.read(path, as_version=4)
    titles = [line for cell in notebook.cells if cell.cell_type == "markdown"
              for line in cell.source.splitlines() if line.startswith("# ")]
    assert titles, f"{_rel(path)} has no '# Title' heading"
    assert not re.match(r"#\s+\d", titles[0]), (
        f"{_rel(path)}: write the title without its number ({titles[0]!r}); "
        "the book numbers chapters itself"
    )


# (b) the Colab cell of every chapter agrees with _config.yml ---------------------------------

def test_colab_cells_agree_with_config():
    messages = sync_tool.check(ROOT)
    assert not messages, "Run `make colab-sync`:\n" + "\n".join(messages)


def _notebook(cells, minor=5):
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": minor}


def _code(source, **extra):
    return {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
            "source": source, **extra}


def test_sync_tool_inserts_rewrites_and_is_idempotent():
    source = sync_tool.colab_cell_source("https://example.org/course", "main")
    title = {"cell_type": "markdown", "metadata": {}, "source": "# Title", "id": "title"}
    notebook = _notebook([title, _code("x = 1", id="code")])
    assert sync_tool._problems(notebook, source)

    fixed = sync_tool.synced(notebook, source)
    assert [cell.get("id") for cell in fixed["cells"]] == ["title", "colab-setup", "code"]
    cell = fixed["cells"][1]
    assert "".join(cell["source"]) == source
    assert cell["metadata"]["tags"] == ["remove-cell"]
    assert sync_tool._problems(fixed, source) == []
    assert sync_tool.synced(fixed, source) == fixed
    nbformat.validate(nbformat.from_dict(fixed))

    # A cell pointing at another repository is rewritten in place, keeping its id and tags.
    stale = sync_tool.colab_cell_source("https://example.org/old", "dev")
    notebook = _notebook([title, _code(stale, id="setup", metadata={"tags": ["remove-cell", "x"]})])
    fixed = sync_tool.synced(notebook, source)
    assert [cell["id"] for cell in fixed["cells"]] == ["title", "setup"]
    assert fixed["cells"][1]["metadata"]["tags"] == ["remove-cell", "x"]
    assert "".join(fixed["cells"][1]["source"]) == source


def test_sync_tool_check_reports_a_stale_notebook(tmp_path):
    (tmp_path / "chapters").mkdir()
    (tmp_path / "_config.yml").write_text(
        "repository:\n  url: https://example.org/course\n  branch: main\n", encoding="utf-8")
    stale = sync_tool.colab_cell_source("https://example.org/old", "main")
    path = tmp_path / "chapters" / "01_x.ipynb"
    path.write_text(sync_tool.dumps(_notebook([_code(stale, id="a")])), encoding="utf-8")

    assert sync_tool.main(["--check", "--root", str(tmp_path)]) == 1
    assert sync_tool.sync(tmp_path) == [path]
    assert sync_tool.check(tmp_path) == []
    assert sync_tool.sync(tmp_path) == []  # nothing left to change
    assert path.read_text(encoding="utf-8").endswith("}\n")


# (c) the table of contents and the files agree ----------------------------------------------

@pytest.mark.parametrize("entry", TOC_FILES)
def test_toc_entry_exists(entry):
    assert _page_path(entry) is not None, (
        f"_toc.yml lists {entry!r} but none of {entry}{{{','.join(PAGE_SUFFIXES)}}} exists"
    )


def test_every_page_is_in_the_toc():
    listed = {_page_path(entry) for entry in TOC_FILES} - {None}
    pages = [p for folder in ("chapters", "appendix") for p in sorted((ROOT / folder).iterdir())
             if p.suffix in PAGE_SUFFIXES]
    missing = [_rel(p) for p in pages if p not in listed]
    assert not missing, (
        "these pages are not in _toc.yml, so the book leaves them out (only_build_toc_files): "
        + ", ".join(missing)
    )


# (d) the book builds with warnings as errors -------------------------------------------------

@pytest.mark.slow
def test_book_builds_without_warnings(tmp_path):
    """Build the whole book without executing the notebooks (nbval runs them) and with Sphinx
    warnings turned into errors. Everything is written under tmp_path, nothing in the repo."""
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    assert jupyter_book.exists(), f"jupyter-book is not installed next to {sys.executable}"

    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    config.setdefault("execute", {})["execute_notebooks"] = "off"
    config_path = tmp_path / "_config.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    had_build_dir = (ROOT / "_build").exists()

    command = [str(jupyter_book), "build", str(ROOT), "--config", str(config_path),
               "--path-output", str(tmp_path / "out"), "-W", "-n", "--keep-going"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    output = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)  # drop colour codes
    returncode = result.returncode
    assert returncode == 0, f"{' '.join(command)}\nfailed:\n{output}"
    assert (tmp_path / "out" / "_build" / "html" / "index.html").is_file(), output
    assert (ROOT / "_build").exists() == had_build_dir, "the test build wrote into the repository"
