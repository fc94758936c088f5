#!/usr/bin/env python3
"""Run every chapter the way Google Colab would: ``make colab-check``.

Colab comes with its own Python, jax, numpy and matplotlib, and a chapter's set-up cell must not
change them. This check rebuilds that situation and runs the course in it:

1. a fresh virtual environment (``_build/colab-venv``, recreated on every run) with the Python of
   ``tools/colab_env.txt``, and the packages pinned there installed;
2. nodelib installed exactly as the Colab cell does: its ``%pip install ...`` line is read from the
   chapters, and only the GitHub url is replaced by this repository
   (``git+file://<repo>@<branch>``). pip installs from the *committed* state of that branch, so
   uncommitted changes are not tested; a repository without the branch (a detached CI clone)
   falls back to ``HEAD``;
3. the versions are read back: if installing nodelib changed jax, numpy, matplotlib or any
   other pin, the check fails (the cell would upgrade Colab's jax);
4. the student edition is generated (``tools/make_student.py``) into a temporary folder outside
   the repository (so ``import nodelib`` finds the installed package, never the working tree);
5. every chapter is executed once in that environment, with ``MPLBACKEND=Agg``, in a way that
   covers both editions: the student edition's cells in order, except its exercise stubs and
   their check cells (what a student runs before solving anything), followed by the chapter's
   solution cells, each with its check cell. The two editions differ only in those cells, and
   the solution cells are self-contained (tests/test_student_edition.py runs each one with
   nothing but nodelib defined), so this runs every code cell of the chapter and of its student
   edition in the Colab-like environment, in one kernel instead of two.

Chapters run ``--jobs`` at a time (2 by default, one per core of the course's reference
machine). It prints one line per chapter (OK/FAIL and seconds) and exits 1 on any failure,
showing the failing cell and the error.

Usage::

    python tools/colab_check.py                   # the check (make colab-check)
    python tools/colab_check.py --ref HEAD        # install nodelib from another ref
    python tools/colab_check.py --sync-verified   # write each chapter's "Last verified" line
    python tools/colab_check.py --check-verified  # list the chapters whose line is stale

``COLAB_PYTHON=/path/to/python`` chooses the interpreter; without it the tool looks for the
version that ``colab_env.txt`` names (``pythonX.Y`` on the PATH, then pyenv) and falls back, with
a notice, to ``python3``. The "Last verified" line, at the top of every chapter, is generated from
``colab_env.txt`` too (``make colab-sync``), so the pins and what the chapters claim agree.

This file needs only the standard library, except the part that runs inside the Colab-like
environment (``--run-notebook``), which uses its nbclient.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import copy
import glob
import io
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PINS = REPO_ROOT / "tools" / "colab_env.txt"
VENV = REPO_ROOT / "_build" / "colab-venv"
COLAB_MARKER = "# Colab set-up:"
KERNEL_NAME = "colab-check"
CELL_TIMEOUT = 600  # seconds, per cell
NOTEBOOK_TIMEOUT = 1800  # seconds, per notebook
# Colab's preinstalled packages that the chapters' "Last verified" line names.
VERIFIED_PACKAGES = ("jax", "numpy", "matplotlib")
STUB_LINE = "raise NotImplementedError("  # what tools/make_student.py puts in place of a solution
_PIP_LINE = re.compile(r"^\s*%pip\s+install\s.*$", re.MULTILINE)
_GIT_URL = re.compile(r"git\+(?P<url>[^\s\"']+?)@(?P<ref>[\w./-]+)")
_VERIFIED = re.compile(r"^\*?Last verified\b.*$", re.MULTILINE)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _say(message: str = "") -> None:
    print(message, flush=True)


def _text(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def chapter_notebooks(root: Path = REPO_ROOT) -> list[Path]:
    return sorted((Path(root) / "chapters").glob("*.ipynb"))


# The pins -----------------------------------------------------------------------------------

def read_pins(path: Path = PINS) -> tuple[str, dict[str, str]]:
    """Return ``(python_version, {package: version})`` from a pins file like colab_env.txt.

    Raises:
        ValueError: if the ``# python==X.Y`` line is missing or a requirement is not ``name==v``.
    """
    python, pins = None, {}
    for number, raw in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        match = re.fullmatch(r"#\s*python\s*==\s*(\d+\.\d+(?:\.\d+)?)", line)
        if match:
            python = match.group(1)
            continue
        if not line or line.startswith("#"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([\w.+-]+)", line)
        if not match:
            raise ValueError(f"{path}:{number}: expected 'package==version', found {raw!r}")
        pins[match.group(1).lower()] = match.group(2)
    if python is None:
        raise ValueError(f"{path} has no '# python==X.Y' line naming Colab's Python")
    missing = [name for name in VERIFIED_PACKAGES if name not in pins]
    if missing:
        raise ValueError(f"{path} does not pin {', '.join(missing)}")
    return python, pins


def verified_line(python: str, pins: dict[str, str]) -> str:
    """The line each chapter carries at its top, e.g. ``*Last verified ...: Python 3.13, ...*``."""
    packages = ", ".join(f"{name} {pins[name]}" for name in VERIFIED_PACKAGES)
    return f"*Last verified in a Colab-like environment: Python {python}, {packages}.*"


# The "Last verified" line of every chapter ----------------------------------------------------

def _first_markdown(notebook: dict) -> dict | None:
    return next((c for c in notebook.get("cells", []) if c.get("cell_type") == "markdown"), None)


def with_verified_line(notebook: dict, line: str) -> dict:
    """A copy of ``notebook`` whose first markdown cell states ``line``.

    An existing ``Last verified`` line is replaced in place; otherwise the line is added as the
    last paragraph of the first markdown cell (after the prerequisites block).
    """
    notebook = copy.deepcopy(notebook)
    cell = _first_markdown(notebook)
    if cell is None:
        raise ValueError("the notebook has no markdown cell to hold the 'Last verified' line")
    text = _text(cell)
    if _VERIFIED.search(text):
        text = _VERIFIED.sub(lambda match: line, text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + line
    # Keep the way the notebook stores its source: one string, or a list of lines.
    cell["source"] = text if isinstance(cell.get("source"), str) else text.splitlines(keepends=True)
    return notebook


def verified_problems(root: Path = REPO_ROOT) -> list[str]:
    """One message per chapter whose ``Last verified`` line disagrees with colab_env.txt."""
    root = Path(root)
    line = verified_line(*read_pins(root / "tools" / "colab_env.txt"))
    messages = []
    for path in chapter_notebooks(root):
        cell = _first_markdown(json.loads(path.read_text(encoding="utf-8")))
        found = _VERIFIED.findall(_text(cell)) if cell else []
        if found != [line]:
            messages.append(f"{path.relative_to(root)}: expected {line!r} in its first markdown "
                            f"cell, found {found or 'none'}")
    return messages


def sync_verified(root: Path = REPO_ROOT) -> list[Path]:
    """Write the ``Last verified`` line into every chapter; return the notebooks that changed."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from sync_colab_cells import dumps  # the repository's notebook layout

    root = Path(root)
    line = verified_line(*read_pins(root / "tools" / "colab_env.txt"))
    changed = []
    for path in chapter_notebooks(root):
        text = path.read_text(encoding="utf-8")
        new_text = dumps(with_verified_line(json.loads(text), line))
        if new_text != text:
            path.write_text(new_text, encoding="utf-8")
            changed.append(path)
    return changed


# What the Colab cell installs ----------------------------------------------------------------

def colab_pip_line(notebook: dict) -> str:
    """The ``%pip install ...`` line of a notebook's Colab set-up cell.

    Raises:
        ValueError: if the notebook has no set-up cell or the cell has no ``%pip install`` line.
    """
    cell = next((c for c in notebook.get("cells", []) if c.get("cell_type") == "code"
                 and _text(c).lstrip().startswith(COLAB_MARKER)), None)
    if cell is None:
        raise ValueError("no Colab set-up cell (a code cell starting with "
                         f"{COLAB_MARKER!r})")
    match = _PIP_LINE.search(_text(cell))
    if not match:
        raise ValueError(f"the Colab set-up cell has no '%pip install' line:\n{_text(cell)}")
    return match.group(0).strip()


def local_pip_command(pip_line: str, python: str, repo: Path, ref: str) -> list[str]:
    """The argv that does what ``pip_line`` does in Colab, but from the local repository.

    ``%pip`` is ``<python> -m pip``; the ``git+<url>@<ref>`` of the line becomes
    ``git+file://<repo>@<ref>``; every other word (options, the requirement name) is kept.
    """
    words = shlex.split(pip_line)
    if words[:1] != ["%pip"]:
        raise ValueError(f"not a %pip line: {pip_line!r}")
    args, replaced = [], 0
    for word in words[1:]:
        new = _GIT_URL.sub(lambda m: f"git+{Path(repo).resolve().as_uri()}@{ref}", word)
        replaced += new != word
        args.append(new)
    if replaced != 1:
        raise ValueError(f"expected one 'git+<url>@<ref>' in {pip_line!r}, found {replaced}")
    return [python, "-m", "pip", *args]


def cell_ref(pip_line: str) -> str:
    """The branch (or tag, or commit) the Colab cell installs nodelib from."""
    match = _GIT_URL.search(pip_line)
    if not match:
        raise ValueError(f"no 'git+<url>@<ref>' in {pip_line!r}")
    return match.group("ref")


# The student edition: which cells are exercises ----------------------------------------------

def exercise_cells(notebook: dict) -> list[int]:
    """Indices of the cells a learner must write first: each stub and the check cell after it.

    A stub is a code cell holding the ``raise NotImplementedError(`` that tools/make_student.py
    writes in place of a solution; its check cell is the next code cell, which calls
    ``nodelib.checks``.

    Raises:
        ValueError: if a stub is not followed by a check cell.
    """
    cells, skip = notebook.get("cells", []), []
    for i, cell in enumerate(cells):
        if cell.get("cell_type") != "code" or STUB_LINE not in _text(cell):
            continue
        check = next((j for j in range(i + 1, len(cells)) if cells[j].get("cell_type") == "code"),
                     None)
        if check is None or "nodelib.checks." not in _text(cells[check]):
            raise ValueError(f"the exercise stub in cell {i} is not followed by a check cell")
        skip += [i, check]
    return skip


# Running one notebook (inside the Colab-like environment) ------------------------------------

def run_notebook(path: Path, skip: list[int], result_path: Path, timeout: int) -> int:
    """Execute ``path`` cell by cell with the kernel KERNEL_NAME, skipping the cells ``skip``.

    Writes ``{"ok", "cells_run", "failed_cell", "source", "error"}`` as JSON to ``result_path``
    and the executed notebook next to ``path`` (``*.executed.ipynb``). Needs nbclient.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=timeout, kernel_name=KERNEL_NAME,
                            resources={"metadata": {"path": str(path.parent)}})
    result = {"ok": True, "cells_run": 0, "failed_cell": None, "source": "", "error": ""}
    client.reset_execution_trackers()
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type != "code" or index in skip:
                continue
            try:
                client.execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
            except (CellExecutionError, CellTimeoutError) as error:
                result.update(ok=False, failed_cell=index, source=cell.source,
                              error=_ANSI.sub("", str(error)))
                break
            result["cells_run"] += 1
    nbformat.write(notebook, path.with_suffix(".executed.ipynb"))
    Path(result_path).write_text(json.dumps(result), encoding="utf-8")
    return 0


# Setting up the environment ------------------------------------------------------------------

def find_python(version: str) -> tuple[str, str]:
    """Return ``(interpreter, how it was found)`` for Python ``version`` (``"3.13"``)."""
    override = os.environ.get("COLAB_PYTHON")
    if override:
        return override, "COLAB_PYTHON"
    name = f"python{version}"
    on_path = shutil.which(name)
    if on_path and _python_version(on_path).startswith(version):
        return on_path, "PATH"
    pyenv = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    candidates = sorted(glob.glob(f"{pyenv}/versions/{version}*/bin/{name}"), reverse=True)
    candidates += [f"/usr/local/bin/{name}", f"/usr/bin/{name}"]
    for candidate in candidates:
        if Path(candidate).is_file() and _python_version(candidate).startswith(version):
            return candidate, "found"
    fallback = shutil.which("python3") or sys.executable
    return fallback, f"NOTICE: no Python {version} found (set COLAB_PYTHON=/path/to/{name}); " \
                     "falling back to python3, so this is NOT the Python Colab runs"


def _python_version(python: str) -> str:
    try:
        out = subprocess.run([python, "-c", "import platform; print(platform.python_version())"],
                             capture_output=True, text=True, timeout=60)
    except OSError:
        return ""
    return out.stdout.strip()


def _start_and_wait(command: list[str], timeout: float, text: bool = True, **kwargs):
    """Run ``command`` in its own process group; return its ``CompletedProcess``, or ``None``
    when it ran past ``timeout`` seconds, in which case it and everything it started is killed
    (as on any interruption)."""
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=text,
                          start_new_session=True, **kwargs) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except BaseException as error:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            if isinstance(error, subprocess.TimeoutExpired):
                return None
            raise
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def _run(command: list[str], what: str, timeout: float = 1800, text: bool = True,
         **kwargs) -> subprocess.CompletedProcess:
    """Run ``command``; on failure or after ``timeout`` seconds, stop with a clear message."""
    quoted = " ".join(shlex.quote(str(c)) for c in command)
    result = _start_and_wait(command, timeout, text=text, **kwargs)
    if result is None:
        raise SystemExit(f"colab-check: {what} did not finish in {timeout:.0f} s:\n  {quoted}")
    if result.returncode != 0:
        output = result.stdout + result.stderr
        _say((output.decode(errors="replace") if isinstance(output, bytes) else output)[-6000:])
        raise SystemExit(f"colab-check: {what} failed (exit {result.returncode}):\n  {quoted}")
    return result


def _git(*args: str) -> str:
    result = subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else ""


def resolve_ref(wanted: str) -> str:
    """``wanted`` if the repository has it (a branch, a tag, a commit), else HEAD's commit (said).

    HEAD is named by its full commit id: pip reads ``@HEAD`` as a branch called HEAD.
    """
    if not _git("rev-parse", "--git-dir"):
        raise SystemExit(f"colab-check: {REPO_ROOT} is not a git repository; pip installs nodelib "
                         "from the committed state, so the check needs one")
    if wanted != "HEAD" and _git("rev-parse", "--verify", "--quiet", f"{wanted}^{{commit}}"):
        return wanted
    head = _git("rev-parse", "--verify", "HEAD^{commit}")
    if wanted != "HEAD":
        _say(f"NOTICE: this repository has no branch {wanted!r} (the one the Colab cell names), "
             "as in a detached CI clone; installing nodelib from HEAD instead.")
    return head


def _report_ref(ref: str) -> None:
    sha, head = _git("rev-parse", f"{ref}^{{commit}}"), _git("rev-parse", "HEAD")
    name = "HEAD" if ref == head else ref
    _say(f"nodelib comes from the committed state of {name} ({sha[:12]}): uncommitted changes "
         "are not tested.")
    if sha != head:
        _say(f"NOTICE: {name} is not HEAD ({head[:12]}): the notebooks come from the working "
             f"tree, nodelib from {name}.")
    dirty = _git("status", "--porcelain", "--", "nodelib", "pyproject.toml")
    if dirty:
        _say("NOTICE: nodelib/ or pyproject.toml has uncommitted changes; they are NOT in the "
             "installed nodelib:\n  " + "\n  ".join(line.strip() for line in dirty.splitlines()))


def source_repository(ref: str, work: Path) -> tuple[Path, str]:
    """The repository and ref that pip installs nodelib from: this clone and ``ref``.

    A shallow clone (``git clone --depth 1``, as some CI systems make) is the exception: pip
    makes a partial clone (``--filter=blob:none``), and git never finishes making one from a
    shallow repository. Then the committed tree of ``ref`` is copied into a one-commit
    repository in ``work`` and installed from there, under the same ref name.
    """
    if _git("rev-parse", "--is-shallow-repository") != "true":
        return REPO_ROOT, ref
    source = work / "nodelib-source"
    source.mkdir()
    archive = _run(["git", "-C", str(REPO_ROOT), "archive", "--format=tar", ref],
                   "git archive", text=False).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        if hasattr(tarfile, "data_filter"):  # the safe extraction filter, where Python has it
            tar.extractall(source, filter="data")
        else:
            tar.extractall(source)
    identity = ["-c", "user.name=colab-check", "-c", "user.email=colab-check@example.invalid"]
    for args in (["-c", "init.defaultBranch=colab-check", "init", "-q"], ["add", "-A"],
                 [*identity, "commit", "-q", "-m", f"The committed tree of {ref}"]):
        _run(["git", "-C", str(source), *args], f"copying the tree of {ref}")
    copy_ref = "colab-check"  # the copy's only branch
    if _git("rev-parse", "--verify", "--quiet", f"refs/heads/{ref}"):
        _run(["git", "-C", str(source), "branch", ref], f"naming the copy {ref}")
        copy_ref = ref  # the branch the Colab cell names, as in the original
    _say(f"NOTICE: this clone is shallow; pip installs nodelib from a one-commit copy of the "
         f"committed tree of {ref} ({source}).")
    return source, copy_ref


def _installed_versions(python: str, names) -> dict[str, str]:
    code = ("import json, sys, importlib.metadata as m\n"
            "out = {}\n"
            "for name in sys.argv[1:]:\n"
            "    try: out[name] = m.version(name)\n"
            "    except m.PackageNotFoundError: out[name] = None\n"
            "print(json.dumps(out))")
    return json.loads(_run([python, "-c", code, *names], "reading the installed versions").stdout)


def _pin_changes(pins: dict[str, str], installed: dict[str, str | None]) -> list[str]:
    return [f"{name} {want} -> {installed.get(name)}" for name, want in pins.items()
            if installed.get(name) != want]


def create_environment(python: str, pins: dict[str, str]) -> str:
    """Create the fresh venv with the pins installed; return its interpreter."""
    if VENV.exists():
        shutil.rmtree(VENV)
    VENV.parent.mkdir(parents=True, exist_ok=True)
    _run([python, "-m", "venv", str(VENV)], f"creating {VENV}")
    venv_python = str(VENV / "bin" / "python")
    _run([venv_python, "-m", "pip", "install", "-q", "-r", str(PINS)],
         f"installing {PINS.relative_to(REPO_ROOT)}")
    changed = _pin_changes(pins, _installed_versions(venv_python, pins))
    if changed:
        raise SystemExit("colab-check: pip did not install the pinned versions: "
                         + ", ".join(changed))
    return venv_python


def install_nodelib(venv_python: str, pip_line: str, source: tuple[Path, str],
                    pins: dict[str, str]) -> None:
    """Install nodelib as the Colab cell does, then check that no pinned version moved."""
    command = local_pip_command(pip_line, venv_python, *source)
    _say("Colab cell:  " + pip_line)
    _say("runs here:   " + " ".join(shlex.quote(c) for c in command))
    _run(command, "installing nodelib as the Colab cell does", timeout=900,
         env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
    changed = _pin_changes(pins, _installed_versions(venv_python, pins))
    if changed:
        raise SystemExit(
            "colab-check: FAIL: installing nodelib as the Colab cell does changed Colab's "
            f"preinstalled packages ({', '.join(changed)}). In Colab the cell would replace them; "
            "relax nodelib's requirements in pyproject.toml so that these versions satisfy them.")


def _write_kernelspec(jupyter_dir: Path, venv_python: str) -> None:
    spec_dir = jupyter_dir / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    spec = {"argv": [venv_python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (colab-check)", "language": "python"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1), encoding="utf-8")


def _environment(jupyter_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")}
    env.update(MPLBACKEND="Agg", JUPYTER_PATH=str(jupyter_dir), JUPYTER_PLATFORM_DIRS="1",
               PYDEVD_DISABLE_FILE_VALIDATION="1", PATH=f"{VENV / 'bin'}{os.pathsep}{env['PATH']}")
    return env


# Running everything --------------------------------------------------------------------------

def _execute(venv_python: str, path: Path, skip: list[int], env: dict[str, str]) -> dict:
    result_path = path.with_suffix(".result.json")
    command = [venv_python, str(Path(__file__).resolve()), "--run-notebook", str(path),
               "--skip", ",".join(map(str, skip)), "--result", str(result_path)]
    start = time.perf_counter()
    process = _start_and_wait(command, NOTEBOOK_TIMEOUT, env=env, cwd=path.parent)
    seconds = time.perf_counter() - start
    if result_path.exists():
        result = json.loads(result_path.read_text(encoding="utf-8"))
    else:  # the runner itself broke (kernel did not start, ...) or ran out of time
        output = (f"the notebook did not finish in {NOTEBOOK_TIMEOUT} s" if process is None
                  else process.stdout + process.stderr)
        result = {"ok": False, "cells_run": 0, "failed_cell": None, "source": "",
                  "error": _ANSI.sub("", output)[-4000:]}
    result["seconds"] = seconds
    return result


def _failure_details(name: str, result: dict) -> str:
    source = "\n".join(result["source"].splitlines()[:8])
    error = result["error"].strip()
    error = "\n".join(error.splitlines()[-25:])
    where = f"cell {result['failed_cell']}" if result["failed_cell"] is not None else "the run"
    return (f"--- {name}: {where} failed\n--- source (head):\n{source}\n--- error:\n{error}\n")


def both_editions(student: dict, chapter: dict, exercises: list[dict]) -> dict:
    """The student notebook followed by the chapter's solution and check cells.

    Run with the student's exercise cells skipped, it executes every code cell of both editions.
    """
    combined = copy.deepcopy(student)
    combined["cells"].append({"cell_type": "markdown", "metadata": {},
                              "id": "colab-check-solutions",
                              "source": "The chapter's solutions and their checks (colab-check)."})
    for exercise in exercises:
        for role in ("solution", "check"):
            cell = copy.deepcopy(chapter["cells"][exercise[role]])
            cell["id"] = f"colab-check-{role}-{exercise['solution']}"
            combined["cells"].append(cell)
    return combined


def prepare_notebooks(work: Path) -> list[tuple[str, Path, list[int]]]:
    """Generate the student edition into ``work``, and one notebook per chapter covering both.

    Returns ``(label, path, cells to skip)`` for every notebook to run.
    """
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import make_student

    jobs = []
    out = work / "student" / "chapters"
    _run([sys.executable, str(Path(make_student.__file__)), "--out", str(out)],
         "generating the student edition")
    (work / "chapters").mkdir()
    for path in chapter_notebooks():
        chapter = json.loads(path.read_text(encoding="utf-8"))
        student = json.loads((out / path.name).read_text(encoding="utf-8"))
        skip = exercise_cells(student)
        exercises = make_student.find_exercises(chapter)
        if len(skip) != 2 * len(exercises):
            raise SystemExit(f"colab-check: student/{path.name} has {len(skip) // 2} exercise "
                             f"stubs but chapters/{path.name} has {len(exercises)} coding "
                             "exercises")
        target = work / "chapters" / path.name
        target.write_text(json.dumps(both_editions(student, chapter, exercises), indent=1),
                          encoding="utf-8")
        jobs.append((f"chapters/{path.name} + student edition", target, skip))
    return jobs


def check(ref: str | None, keep: bool, jobs: int = 2) -> int:
    start = time.perf_counter()
    python_version, pins = read_pins()
    python, how = find_python(python_version)
    found = _python_version(python)
    _say(f"Python: {python} ({found or 'unknown version'}; {how})")
    if not found.startswith(python_version):
        _say(f"NOTICE: this is not Python {python_version}, the Python Colab runs "
             f"(tools/colab_env.txt); the results may differ from Colab's.")
    pip_lines = {path.name: colab_pip_line(json.loads(path.read_text(encoding="utf-8")))
                 for path in chapter_notebooks()}
    if len(set(pip_lines.values())) != 1:
        raise SystemExit("colab-check: the chapters' Colab cells differ; run `make colab-sync`:\n"
                         + "\n".join(f"  {name}: {line}" for name, line in pip_lines.items()))
    pip_line = next(iter(pip_lines.values()))
    ref = resolve_ref(ref or cell_ref(pip_line))
    _report_ref(ref)

    work = Path(tempfile.mkdtemp(prefix="colab-check-"))
    _say(f"Creating {VENV.relative_to(REPO_ROOT)} and installing "
         f"{PINS.relative_to(REPO_ROOT)} ...")
    venv_python = create_environment(python, pins)
    install_nodelib(venv_python, pip_line, source_repository(ref, work), pins)
    installed = _installed_versions(venv_python, [*pins, "nodelib"])
    _say("Installed:   python " + _python_version(venv_python) + ", "
         + ", ".join(f"{name} {version}" for name, version in installed.items()))

    _write_kernelspec(work / "jupyter", venv_python)
    env = _environment(work / "jupyter")
    where = _run([venv_python, "-c", "import nodelib; print(nodelib.__file__)"],
                 "importing nodelib", env=env, cwd=work).stdout.strip()
    if not where.startswith(str(VENV)):
        raise SystemExit(f"colab-check: nodelib is imported from {where}, not from the venv")
    _say(f"nodelib:     {where}")
    notebooks = prepare_notebooks(work)
    setup_seconds = time.perf_counter() - start
    _say(f"Set-up took {setup_seconds:.0f} s. Running {len(notebooks)} notebooks in {work}, "
         f"{jobs} at a time ...")

    failures, times = [], {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(_execute, venv_python, path, skip, env): (label, skip)
                   for label, path, skip in notebooks}
        for future in concurrent.futures.as_completed(futures):
            (label, skip), result = futures[future], future.result()
            times[label.split(" ")[0]] = result["seconds"]
            note = f" ({len(skip) // 2} solution(s) run after the student cells)" if skip else ""
            _say(f"{'OK  ' if result['ok'] else 'FAIL'} {label:52s} "
                 f"{result['seconds']:6.1f} s{note}")
            if not result["ok"]:
                failures.append(_failure_details(label, result))
    total = time.perf_counter() - start
    (REPO_ROOT / "_build" / "colab-times.json").write_text(  # for tools/ci_budget.py
        json.dumps({"jobs": jobs, "notebooks": times}, indent=1), encoding="utf-8")
    stale = verified_problems()
    if stale:
        _say("NOTICE: the chapters' 'Last verified' line disagrees with colab_env.txt; run "
             "`make colab-sync`:\n  " + "\n  ".join(stale))
    if failures:
        _say("\n" + "\n".join(failures))
        _say(f"colab-check: {len(failures)} of {len(notebooks)} notebooks FAILED "
             f"(total {total:.0f} s). Executed notebooks are in {work}")
        return 1
    if keep:
        _say(f"Executed notebooks are in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    _say(f"colab-check: all {len(notebooks)} notebooks ran in the Colab-like environment "
         f"(Python {python_version}, jax {pins['jax']}); total {total:.0f} s.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ref", help="install nodelib from this git ref instead of the branch "
                                      "the Colab cell names")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary folder with the executed notebooks")
    parser.add_argument("--jobs", type=int, default=2,
                        help="notebooks run at the same time (default: 2)")
    parser.add_argument("--sync-verified", action="store_true",
                        help="write the 'Last verified' line of every chapter from colab_env.txt")
    parser.add_argument("--check-verified", action="store_true",
                        help="exit 1 listing the chapters whose 'Last verified' line is stale")
    parser.add_argument("--run-notebook", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--skip", default="", help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_notebook:
        skip = [int(i) for i in args.skip.split(",") if i]
        return run_notebook(args.run_notebook, skip, args.result, CELL_TIMEOUT)
    if args.sync_verified:
        changed = sync_verified()
        for path in changed:
            print(f"updated {path.relative_to(REPO_ROOT)}")
        print(f"{len(changed)} notebook(s) updated ('Last verified' line).")
        return 0
    if args.check_verified:
        problems = verified_problems()
        print("\n".join(problems) or "'Last verified' lines agree with colab_env.txt.")
        return 1 if problems else 0
    return check(args.ref, args.keep, args.jobs)


if __name__ == "__main__":
    sys.exit(main())
