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
APPENDIX_NOTEBOOKS = sorted((ROOT / "appendix").glob("*.ipynb"))  # the troubleshooting FAQ
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

@pytest.mark.parametrize("path", NOTEBOOKS + APPENDIX_NOTEBOOKS,
                         ids=[p.name for p in NOTEBOOKS + APPENDIX_NOTEBOOKS])
def test_notebook_is_valid_and_stored_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    dirty = [
        f"cell {i}: {len(cell.get('outputs', []))} output(s), "
        f"execution_count={cell.get('execution_count')}"
        for i, cell in enumerate(notebook.cells)
        if cell.cell_type == "code"
        and (cell.get("outputs") or cell.get("execution_count") is not None)
    ]
    assert not dirty, (
        f"{_rel(path)} is stored with outputs; clear them before committing "
        "(Jupyter: Edit > Clear Outputs of All Cells, or "
        "`jupyter nbconvert --clear-output --inplace <notebook>`):\n" + "\n".join(dirty)
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_chapter_title_is_not_numbered_by_hand(path):
    """_toc.yml numbers the chapters (and so "Exercise 3.2");
    a title "# 3. ..." would show "3. 3."."""
    notebook = nbformat.read(path, as_version=4)
    titles = [line for cell in notebook.cells if cell.cell_type == "markdown"
              for line in cell.source.splitlines() if line.startswith("# ")]
    assert titles, f"{_rel(path)} has no '# Title' heading"
    assert not re.match(r"#\s+\d", titles[0]), (
        f"{_rel(path)}: write the title without its number ({titles[0]!r}); "
        "the book numbers chapters itself"
    )



@pytest.mark.parametrize("path", NOTEBOOKS + APPENDIX_NOTEBOOKS,
                         ids=[p.name for p in NOTEBOOKS + APPENDIX_NOTEBOOKS])
def test_markdown_has_no_control_characters(path):
    """LaTeX written into notebook JSON with one backslash turns "\\times" into a tab and
    "imes", "\\frac" into a form feed and "rac", "\\beta" into a backspace and "eta"."""
    notebook = nbformat.read(path, as_version=4)
    bad = [
        f"cell {cell.get('id', i)}: {name} before {cell.source[m.end():m.end() + 12]!r}"
        for i, cell in enumerate(notebook.cells) if cell.cell_type == "markdown"
        for name, char in (("a tab", "\t"), ("a backspace", "\b"), ("a form feed", "\f"),
                           ("a carriage return", "\r"), ("a vertical tab", "\v"))
        for m in re.finditer(re.escape(char), cell.source)
    ]
    assert not bad, (
        f"{_rel(path)}: markdown holds control characters, most likely a LaTeX command whose "
        "backslash was not doubled in the JSON (write \\\\times, \\\\frac, \\\\beta):\n"
        + "\n".join(bad)
    )

# (b) the Colab cell of every chapter agrees with _config.yml ---------------------------------

def test_colab_cells_agree_with_config():
    messages = sync_tool.check(ROOT)
    assert not messages, "Run `make colab-sync`:\n" + "\n".join(messages)


@pytest.mark.parametrize("path", APPENDIX_NOTEBOOKS, ids=[p.name for p in APPENDIX_NOTEBOOKS])
def test_appendix_notebook_colab_cell_agrees_with_config(path):
    """Appendix notebooks open in Colab too, with the chapters' set-up cell as first code cell."""
    source = sync_tool.colab_cell_source(*sync_tool.repository_from_config(ROOT / "_config.yml"))
    problems = sync_tool._problems(nbformat.read(path, as_version=4), source)
    assert not problems, (
        f"{_rel(path)}: " + "; ".join(problems)
        + " (copy the Colab set-up cell of a chapter, after `make colab-sync`)"
    )


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


# (b2) every chapter states the Colab versions of tools/colab_env.txt; colab-check parses the
# real cells (the check itself, `make colab-check`, runs in CI after `make test`) -------------

def _load_tool(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


colab_tool = _load_tool("colab_check")


def test_every_chapter_states_the_versions_it_was_verified_with():
    messages = colab_tool.verified_problems(ROOT)
    assert not messages, "Run `make colab-sync`:\n" + "\n".join(messages)
    python, pins = colab_tool.read_pins(ROOT / "tools" / "colab_env.txt")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for words in (f"Python {python}", f"jax {pins['jax']}"):
        assert words in readme, f"README.md should say which versions colab-check uses: {words!r}"

    line = colab_tool.verified_line(python, pins)
    title = {"cell_type": "markdown", "metadata": {},
             "source": "# T\n\nText.\n\n*Last verified with: old.*"}
    fixed = colab_tool.with_verified_line(_notebook([title]), line)
    assert fixed["cells"][0]["source"] == f"# T\n\nText.\n\n{line}"  # replaced, kept a string
    listed = dict(title, source=["# T\n", "\n", "Text."])
    fixed = colab_tool.with_verified_line(_notebook([listed]), line)
    assert "".join(fixed["cells"][0]["source"]) == f"# T\n\nText.\n\n{line}"  # added at the end
    assert colab_tool.with_verified_line(fixed, line) == fixed


def test_colab_check_parses_the_colab_cell_and_the_student_stubs():
    make_student = _load_tool("make_student")
    url, branch = sync_tool.repository_from_config(ROOT / "_config.yml")
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        pip_line = colab_tool.colab_pip_line(notebook)
        assert colab_tool.cell_ref(pip_line) == branch
        command = colab_tool.local_pip_command(pip_line, "python", ROOT, branch)
        assert command == ["python", "-m", "pip", "install", "-q",
                           f"nodelib @ git+{ROOT.as_uri()}@{branch}"], (path.name, command)

        student = make_student.make_student_notebook(notebook)
        skip = colab_tool.exercise_cells(student)
        assert len(skip) == 2 * len(make_student.find_exercises(notebook)), path.name
        for stub, check in zip(skip[::2], skip[1::2]):
            assert "raise NotImplementedError(" in "".join(student["cells"][stub]["source"])
            assert "nodelib.checks." in "".join(student["cells"][check]["source"])

        # colab-check runs both editions in one kernel: every code cell of the chapter (but the
        # Colab cell, which the student edition points at its branch) runs, none of the stubs.
        exercises = make_student.find_exercises(notebook)
        combined = colab_tool.both_editions(student, notebook, exercises)
        run = ["".join(cell["source"]) for i, cell in enumerate(combined["cells"])
               if cell["cell_type"] == "code" and i not in skip]
        chapter_code = ["".join(cell["source"]) for cell in notebook.cells[1:]
                        if cell.cell_type == "code" and not cell.source.startswith("# Colab")]
        assert all(source in run for source in chapter_code), path.name
        assert not any("raise NotImplementedError(" in source for source in run), path.name
    assert url in pip_line


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


# (c2) the teaching kit cannot drift from the chapters and nodelib ----------------------------

INSTRUCTORS = ROOT / "instructors.md"
REFERENCE = ROOT / "appendix" / "reference.md"


def _chapter_exercises() -> list[tuple[str, str, str, str | None]]:
    """(notebook, label, number as the book prints it, check function or None) per exercise."""
    path = ROOT / "tools" / "make_student.py"
    spec = importlib.util.spec_from_file_location("make_student_kit", path)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    found = []
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        chapter = int(path.name.split("_", 1)[0])
        checks = {}
        for exercise in tool.find_exercises(notebook, chapter):
            check_cell = notebook.cells[exercise["check"]].source
            checks[exercise["label"]] = re.search(r"nodelib\.checks\.(\w+)", check_cell).group(1)
        for label, (number, _title) in tool.exercise_numbers(notebook, chapter).items():
            found.append((path.name, label, number, checks.get(label)))
    return found


def test_instructor_page_lists_every_exercise_with_its_number_and_check():
    page = INSTRUCTORS.read_text(encoding="utf-8")
    exercises = _chapter_exercises()
    assert exercises, "no {exercise} directive with a :label: found in chapters/*.ipynb"
    problems = []
    for name, label, number, check in exercises:
        rows = [line for line in page.splitlines() if f"`{label}`" in line]
        if not rows:
            problems.append(f"{name}: exercise {number} (`{label}`) is missing")
            continue
        if not all(re.search(rf"(?<![\d.]){re.escape(number)}(?!\d)", row) for row in rows):
            problems.append(f"{name}: a line with `{label}` lacks its number {number}")
        if check and not any(check in row for row in rows):
            problems.append(f"{name}: the line of `{label}` does not name its check {check}")
    stale = set(re.findall(r"`(ex-[\w-]+)`", page)) - {label for _, label, _, _ in exercises}
    problems += [f"`{label}` is not the label of any exercise" for label in sorted(stale)]
    assert not problems, "instructors.md is out of step with the chapters:\n" + "\n".join(problems)


def test_instructor_page_names_only_real_checks():
    import nodelib.checks

    named = set(re.findall(r"\bcheck_\w+", INSTRUCTORS.read_text(encoding="utf-8")))
    assert named, "instructors.md names no nodelib.checks function"
    unknown = sorted(name for name in named if not callable(getattr(nodelib.checks, name, None)))
    assert not unknown, f"instructors.md names checks that nodelib.checks lacks: {unknown}"


def test_reference_page_documents_every_public_name():
    import nodelib

    page = REFERENCE.read_text(encoding="utf-8")
    # directive lines (`.. autofunction:: nodelib.odeint`) and extra signature lines of py:data
    documented = set(re.findall(r"^\s*(?:\.\. (?:auto\w+|py:\w+):: +)?nodelib\.(\w+)\s*$", page,
                                flags=re.MULTILINE))
    missing = [name for name in nodelib.__all__ if name not in documented]
    assert not missing, (
        f"appendix/reference.md does not document these names of nodelib.__all__: {missing}")


# (d) the book builds with warnings as errors -------------------------------------------------

@pytest.mark.slow
def test_book_builds_without_warnings(tmp_path):
    """Build the whole book without executing the notebooks (nbval runs them) and with Sphinx
    warnings turned into errors. Everything is written under tmp_path, nothing in the repo."""
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    assert jupyter_book.exists(), f"jupyter-book is not installed next to {sys.executable}"

    _prepare_site_assets()
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    config.setdefault("execute", {})["execute_notebooks"] = "off"
    # Jupyter Book finds local extensions relative to the config file, which now lives in tmp_path.
    extensions = config.get("sphinx", {}).get("local_extensions") or {}
    for name, folder in extensions.items():
        extensions[name] = str(ROOT / folder)
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
    _assert_mathjax_is_served_locally(tmp_path / "out" / "_build" / "html")


def _prepare_site_assets():
    """Copy MathJax into _vendor/ as `make book` does (from a Python package: no npm needed)."""
    assets = _load_tool("site_assets")
    assets.prepare(ROOT)


def _assert_mathjax_is_served_locally(site: Path):
    """Every page that loads MathJax loads the site's own copy, which is there: no CDN."""
    sources = {
        (page, src)
        for page in site.rglob("*.html") if "_static" not in page.relative_to(site).parts
        for src in re.findall(r'<script[^>]*\bsrc="([^"]*mathjax[^"]*)"', page.read_text("utf-8"))
    }
    assert sources, "no page loads MathJax: the chapters have maths"
    remote = sorted(f"{page.relative_to(site)}: {src}" for page, src in sources if "://" in src)
    assert not remote, "MathJax must be served by the site, not a CDN:\n" + "\n".join(remote)
    for page, src in sources:
        target = (page.parent / src.split("?")[0]).resolve()
        assert target.is_file(), f"{page.relative_to(site)} loads {src}, which is not in the site"
