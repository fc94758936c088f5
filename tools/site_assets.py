"""Prepare the browser assets that the book serves itself, so that the site works offline.

MathJax is not loaded from a CDN. `make book` (and the repository test that builds the book) run
this script, which copies MathJax 3's `es5/tex-chtml.js` bundle, with the files it loads on
demand (CHTML fonts, TeX extensions, the accessibility and menu components), into
`_vendor/mathjax/`. The copy comes from the Python package `django-static-mathjax` (a plain
copy of the MathJax release, despite its name: it needs neither Django nor Node.js), which
requirements.txt installs into .venv, so building the book needs Python and make only.

`_config.yml` adds `_vendor` to Sphinx's `html_extra_path` and sets
`mathjax_path: ../mathjax/tex-chtml.js`, so the built pages load `<site>/mathjax/tex-chtml.js`.

The browser check (`make site-check`) also needs axe-core, from npm (package.json); that is
installed by the Makefile, not here.

Usage: .venv/bin/python tools/site_assets.py [--root DIR]
"""
from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENDOR = "_vendor"
DISTRIBUTION = "django-static-mathjax"  # the PyPI package that ships MathJax
MATHJAX_VERSION = "3.2.2"               # the MathJax release it must contain (3.2.2.x)
# What the tex-chtml bundle needs next to it: fonts, TeX extensions that `autoload` fetches
# (e.g. \boldsymbol, \cancel), and the components the MathJax menu loads when a reader asks.
MATHJAX_FILES = ["tex-chtml.js"]
MATHJAX_DIRS = ["output/chtml/fonts", "input/tex/extensions", "a11y", "sre", "ui"]

NOT_INSTALLED = (
    f"the Python package {DISTRIBUTION} (MathJax {MATHJAX_VERSION}) is not installed in this "
    f"environment ({sys.executable}). Run `make venv`, which installs requirements.txt, or "
    f"`pip install {DISTRIBUTION}=={MATHJAX_VERSION}.*`, and run the command again."
)


class AssetsError(RuntimeError):
    """The assets cannot be prepared (the MathJax package is missing or not the right one)."""


def mathjax_source() -> Path:
    """The folder holding MathJax's `es5/` build, inside the installed Python package."""
    try:
        version = importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise AssetsError(NOT_INSTALLED) from None
    if not version.startswith(MATHJAX_VERSION):
        raise AssetsError(f"{DISTRIBUTION} {version} is installed, but the site is tested with "
                          f"MathJax {MATHJAX_VERSION}: run `make venv` (requirements.txt pins it)")
    spec = importlib.util.find_spec("mathjax")  # the import name of the package
    if spec is None or not spec.submodule_search_locations:
        raise AssetsError(NOT_INSTALLED)
    source = Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax"
    if not (source / "es5" / MATHJAX_FILES[0]).is_file():
        raise AssetsError(f"{source / 'es5' / MATHJAX_FILES[0]} is missing: reinstall "
                          f"{DISTRIBUTION} (`.venv/bin/pip install --force-reinstall "
                          f"{DISTRIBUTION}=={version}`)")
    return source


def copy_mathjax(root: Path, source: Path) -> Path:
    """Copy MathJax's tex-chtml bundle and what it loads from `source` into <root>/_vendor/."""
    target = root / VENDOR / "mathjax"
    if target.exists():
        shutil.rmtree(target)
    for name in MATHJAX_DIRS:
        shutil.copytree(source / "es5" / name, target / name)
    shutil.copy(source / "LICENSE", target / "LICENSE")
    for name in MATHJAX_FILES:  # copied last, with a fresh mtime: make's target is tex-chtml.js
        shutil.copy(source / "es5" / name, target / name)
    return target


def prepare(root: Path = ROOT) -> Path:
    """Copy MathJax into <root>/_vendor/mathjax/; return that folder."""
    return copy_mathjax(root, mathjax_source())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root")
    args = parser.parse_args(argv)
    try:
        target = prepare(args.root.resolve())
    except AssetsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"site assets: MathJax {importlib.metadata.version(DISTRIBUTION)} copied to "
          f"{target.relative_to(args.root.resolve())}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
