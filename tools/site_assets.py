"""Prepare the browser assets that the book serves itself, so that the site works offline.

MathJax is not loaded from a CDN: `make book` (and the repository test that builds the book)
run this script, which

1. installs the npm packages pinned in package.json / package-lock.json into node_modules/
   with `npm ci`, when node_modules/ is missing or older than the lock file;
2. copies MathJax 3's `es5/tex-chtml.js` bundle, with the files it loads on demand (CHTML fonts,
   TeX extensions, the accessibility and menu components), into `_vendor/mathjax/`.

`_config.yml` adds `_vendor` to Sphinx's `html_static_path` and sets
`mathjax_path: mathjax/tex-chtml.js`, so the built pages load `_static/mathjax/tex-chtml.js`.
node_modules/ also holds axe-core, which `tools/site_check.py` injects into every page.

Usage: python tools/site_assets.py [--root DIR]
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENDOR = "_vendor"
# What the tex-chtml bundle needs next to it: fonts, TeX extensions that `autoload` fetches
# (e.g. \boldsymbol, \cancel), and the components the MathJax menu loads when a reader asks.
MATHJAX_FILES = ["tex-chtml.js"]
MATHJAX_DIRS = ["output/chtml/fonts", "input/tex/extensions", "a11y", "sre", "ui"]

NO_NPM = (
    "npm was not found. Building the book needs Node.js and npm (any Node.js >= 18) to install "
    "MathJax, which the site serves itself: install them (Debian/Ubuntu: `apt-get install nodejs "
    "npm`; macOS: `brew install node`; or see nodejs.org) and run the command again."
)


class AssetsError(RuntimeError):
    """The assets cannot be prepared (npm missing or failing)."""


def npm_install_needed(root: Path) -> bool:
    """True when node_modules/ is missing or older than package.json / package-lock.json."""
    marker = root / "node_modules" / ".package-lock.json"  # written by every npm ci
    if not marker.is_file():
        return True
    newest = max((root / name).stat().st_mtime for name in ("package.json", "package-lock.json"))
    return marker.stat().st_mtime < newest


def npm_ci(root: Path) -> None:
    """Run `npm ci` in root; raise AssetsError, saying what to install, if npm is absent."""
    npm = shutil.which("npm")
    if npm is None:
        raise AssetsError(NO_NPM)
    command = [npm, "ci", "--no-audit", "--no-fund"]
    print(f"site assets: {' '.join(command[1:])} (package-lock.json is newer than node_modules/)")
    result = subprocess.run(command, cwd=root, check=False)
    if result.returncode != 0:
        raise AssetsError(f"`npm ci` failed in {root} (exit {result.returncode})")
    (root / "node_modules" / ".package-lock.json").touch()


def copy_mathjax(root: Path) -> Path:
    """Copy MathJax's tex-chtml bundle and what it loads into <root>/_vendor/mathjax/."""
    source = root / "node_modules" / "mathjax" / "es5"
    target = root / VENDOR / "mathjax"
    if not (source / MATHJAX_FILES[0]).is_file():
        raise AssetsError(f"{source / MATHJAX_FILES[0]} is missing: run `npm ci` in {root}")
    if target.exists():
        shutil.rmtree(target)
    for name in MATHJAX_DIRS:
        shutil.copytree(source / name, target / name)
    shutil.copy(source.parent / "LICENSE", target / "LICENSE")
    for name in MATHJAX_FILES:  # copied last, with a fresh mtime: make's target is tex-chtml.js
        shutil.copy(source / name, target / name)
    return target


def prepare(root: Path = ROOT) -> Path:
    """Install the npm packages if needed and copy MathJax; return the MathJax folder."""
    if npm_install_needed(root):
        npm_ci(root)
    return copy_mathjax(root)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root")
    args = parser.parse_args(argv)
    try:
        target = prepare(args.root.resolve())
    except AssetsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"site assets: MathJax copied to {target.relative_to(args.root.resolve())}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
