#!/usr/bin/env python3
"""Project the time of `.ci/run` to the full course of ten chapters, from the run just made.

`.ci/run` writes the wall time of each stage to `_build/ci-times.tsv` and the stages write the
time each notebook took: pytest/nbval (`_build/pytest-report.xml`), colab-check
(`_build/colab-times.json`) and the book's executions (`_build/book-times.json`). Each of these
three stages executes every chapter once (the book build in `make site-check`, from an empty
cache; `make book` again would execute nothing), `jobs` notebooks at a time.

The projection keeps every stage's measured time, takes out the chapters it executed (the sum
of their times divided by the number run at a time) and puts in ten chapters of the design's
budget, two minutes each as `make test` runs them (two at a time; the Colab-like run and the
book run the same code about as long):

    stage at ten chapters = measured stage - sum(chapter times) / jobs + 10 * 120 s / jobs

Everything else (installing, the unit tests, the browser check, the appendix notebook) is kept
as measured. The result is compared with the 45-minute budget of the design (CI's hard limit is
90 minutes).

Usage: python tools/ci_budget.py [--build _build] [--strict]   (--strict: exit 1 when over)
"""
from __future__ import annotations

import argparse
import json
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS, CHAPTER_SECONDS, BUDGET_SECONDS = 10, 120.0, 45 * 60.0


def nbval_times(report: Path) -> dict[str, float]:
    """Seconds per notebook under nbval, from pytest's JUnit XML report (cells summed)."""
    times: dict[str, float] = defaultdict(float)
    for case in ET.parse(report).getroot().iter("testcase"):
        name = case.get("classname", "")  # "chapters.01_resnets.ipynb" for a notebook cell
        if name.endswith(".ipynb") and name.split(".", 1)[0] in ("chapters", "appendix"):
            path = name.removesuffix(".ipynb").replace(".", "/") + ".ipynb"
            times[path] += float(case.get("time", 0))
    return dict(times)


def load(build: Path) -> tuple[dict[str, float], dict[str, tuple[dict[str, float], int]]]:
    stages = {}
    for line in (build / "ci-times.tsv").read_text(encoding="utf-8").splitlines():
        name, seconds = line.split("\t")
        stages[name] = float(seconds)
    executions = {}
    if (build / "pytest-report.xml").is_file():
        executions["test"] = (nbval_times(build / "pytest-report.xml"), 2)
    for stage, name in (("colab-check", "colab-times.json"), ("site-check", "book-times.json")):
        if (build / name).is_file():
            data = json.loads((build / name).read_text(encoding="utf-8"))
            executions[stage] = (data["notebooks"], int(data["jobs"]))
    return stages, executions


def project(stages, executions) -> tuple[list[tuple[str, float, float, str]], float]:
    rows, total = [], 0.0
    for stage, seconds in stages.items():
        note, projected = "kept as measured", seconds
        if stage in executions:
            times, jobs = executions[stage]
            chapters = {k: v for k, v in times.items() if "chapters/" in k}
            now = sum(chapters.values()) / jobs
            projected = seconds - now + CHAPTERS * CHAPTER_SECONDS / jobs
            note = (f"{len(chapters)} chapters took {sum(chapters.values()):.0f} s, {jobs} at a "
                    f"time; ten of {CHAPTER_SECONDS:.0f} s")
        rows.append((stage, seconds, projected, note))
        total += projected
    return rows, total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", type=Path, default=ROOT / "_build")
    parser.add_argument("--strict", action="store_true", help="exit 1 when over the budget")
    args = parser.parse_args(argv)
    try:
        stages, executions = load(args.build)
    except (OSError, ValueError) as error:
        print(f"error: cannot read the stage times in {args.build} ({error}); run .ci/run first",
              file=sys.stderr)
        return 2
    rows, total = project(stages, executions)
    measured = sum(stages.values())
    print(f"{'stage':<14} {'measured':>9} {'at ten chapters':>16}  how")
    for stage, seconds, projected, note in rows:
        print(f"{stage:<14} {seconds:8.0f}s {projected:15.0f}s  {note}")
    print(f"{'total':<14} {measured:8.0f}s {total:15.0f}s  budget {BUDGET_SECONDS:.0f} s "
          f"(45 min): {'within' if total <= BUDGET_SECONDS else 'OVER'}")
    return 1 if args.strict and total > BUDGET_SECONDS else 0


if __name__ == "__main__":
    sys.exit(main())
