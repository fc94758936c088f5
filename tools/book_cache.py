#!/usr/bin/env python3
"""Keep the book's execution cache honest: empty it when what the notebooks import changes.

`make book` executes the notebooks through jupyter-cache (`execute_notebooks: cache` in
_config.yml): a notebook is executed again only when its code cells change. The cache does not
see the code the notebooks import, so a change to nodelib would leave stale outputs in the site.
This script, run by `make book` before every build, hashes what the outputs depend on besides
the notebooks themselves (nodelib's source, requirements.txt, the `execute:` settings of
_config.yml) and removes the cache when the hash differs from the one stored with it; the build
then executes every notebook.

With ``--execute`` it then executes, ``--jobs`` at a time (2 by default, one per core of the
course's reference machine), the notebooks of chapters/ and appendix/ that the cache does not
hold, exactly as the book build would (myst-nb's cache mode: in the notebook's folder, with the
`execute:` timeout, errors not allowed) and stores them in the cache, so that
`jupyter-book build` finds every notebook there. A notebook whose cell raises stops it with the
cell's traceback and exit status 1, before the build: such a notebook is never cached.

Usage: python tools/book_cache.py [--root DIR] [--execute [--jobs N]]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path("_build") / ".jupyter_cache"   # Jupyter Book's default place for it
STAMP_NAME = "inputs.sha256"


def inputs_hash(root: Path) -> str:
    """sha256 over nodelib's files, requirements.txt and the `execute:` block of _config.yml."""
    digest = hashlib.sha256()
    files = sorted(p for p in (root / "nodelib").rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts)
    files.append(root / "requirements.txt")
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8")) or {}
    digest.update(repr(sorted((config.get("execute") or {}).items())).encode())
    return digest.hexdigest()


def check(root: Path) -> str:
    """Remove the cache if its inputs changed; return what was done, in words."""
    cache = root / CACHE
    stamp = cache / STAMP_NAME
    current = inputs_hash(root)
    if cache.exists() and (not stamp.is_file() or stamp.read_text().strip() != current):
        shutil.rmtree(cache)
        message = ("book cache: nodelib, requirements.txt or the execute settings changed since "
                   "the last build, so every notebook is executed again")
    elif cache.exists():
        message = "book cache: only notebooks whose code changed are executed"
    else:
        message = "book cache: empty, every notebook is executed"
    cache.mkdir(parents=True, exist_ok=True)
    stamp.write_text(current + "\n")
    return message


def notebooks(root: Path) -> list[Path]:
    """The notebooks the book executes (test_repository checks that all are in _toc.yml)."""
    return sorted(p for folder in ("chapters", "appendix") for p in (root / folder).glob("*.ipynb"))


def _execute_one(path: str, timeout: int) -> tuple[str, str | None, str, float]:
    """Execute one notebook as myst-nb does; return (path, notebook JSON or None, error, s)."""
    import nbformat
    from jupyter_cache.executors.utils import single_nb_execution

    nb = nbformat.read(path, as_version=4)
    result = single_nb_execution(nb, cwd=str(Path(path).parent), allow_errors=False,
                                 timeout=timeout, meta_override=True)
    if result.err is not None:
        return path, None, result.exc_string or repr(result.err), result.time
    return path, nbformat.writes(nb), "", result.time


def execute_missing(root: Path, jobs: int) -> int:
    """Execute the notebooks the cache lacks, `jobs` at a time, and cache them; 0 on success."""
    import concurrent.futures

    import nbformat
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    cache = get_cache(str(root / CACHE))
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8")) or {}
    timeout = int((config.get("execute") or {}).get("timeout", 300))
    todo = []
    for path in notebooks(root):
        try:
            cache.match_cache_notebook(nbformat.read(path, as_version=4))
        except KeyError:
            todo.append(path)
    cached = len(notebooks(root)) - len(todo)
    if not todo:
        print(f"book cache: all {cached} notebooks are in the cache; nothing to execute")
        return 0
    print(f"book cache: executing {len(todo)} notebook(s), {jobs} at a time "
          f"({cached} taken from the cache)", flush=True)
    failed, times = [], {}
    with concurrent.futures.ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(_execute_one, str(path), timeout) for path in todo]
        for future in concurrent.futures.as_completed(futures):
            path, text, error, seconds = future.result()
            name = Path(path).relative_to(root).as_posix()
            times[name] = seconds
            if text is None:
                failed.append(name)
                print(f"  FAILED {name} after {seconds:.1f} s:\n{error}", flush=True)
                continue
            record = cache.add_nb_to_project(path)
            cache.cache_notebook_bundle(
                CacheBundleIn(nbformat.reads(text, as_version=4), record.uri,
                              data={"execution_seconds": seconds}),
                check_validity=False, overwrite=True)
            print(f"  executed {name} in {seconds:.1f} s", flush=True)
    # The execution times, for tools/ci_budget.py.
    (root / "_build" / "book-times.json").write_text(
        json.dumps({"jobs": jobs, "notebooks": times}, indent=1), encoding="utf-8")
    if failed:
        print(f"error: a cell raised in {', '.join(failed)} (traceback above); fix it and run "
              "`make book` again", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT)
    parser.add_argument("--execute", action="store_true",
                        help="execute and cache the notebooks that the cache lacks")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks executed at a time")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    print(check(root), flush=True)
    return execute_missing(root, args.jobs) if args.execute else 0


if __name__ == "__main__":
    sys.exit(main())
