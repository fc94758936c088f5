"""Run every benchmark script in this folder, one after the other (`make bench`).

Benchmarks are not tests: they print figures measured in one run on this machine, with
peers measured in the same run.
"""
import platform
import subprocess
import sys
from datetime import date
from pathlib import Path

SCRIPTS = ["arenstorf.py", "gradients.py"]


def main():
    here = Path(__file__).resolve().parent
    print(f"{date.today()} | Python {platform.python_version()} | {platform.machine()} | "
          f"{platform.processor() or 'cpu'}")
    for script in SCRIPTS:
        print(f"\n=== {script} ===", flush=True)
        subprocess.run([sys.executable, str(here / script)], check=True)


if __name__ == "__main__":
    main()
