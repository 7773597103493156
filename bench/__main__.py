"""Run every bench in turn and keep their tables: python -m bench [NAME ...]

Each bench runs as its own process (its own servers, temp files and clean memory) and
prints a Markdown table; the tables also go to bench/results/latest.md for the README.
Targets 2 (OCI proxy vs SDK) and 5 (library page on the loopback OCI server) join the list
once the OCI backend and its loopback server exist.
"""

from __future__ import annotations

import subprocess
import sys

from bench.common import RESULTS

BENCHES = ("startup", "throughput", "seek", "memory", "first_frame")


def main(names: list[str]) -> None:
    unknown = sorted(set(names) - set(BENCHES))
    if unknown:
        raise SystemExit(f"unknown bench {', '.join(unknown)}; choose from {', '.join(BENCHES)}")
    outputs = []
    for name in names or BENCHES:
        print(f"## {name}", flush=True)
        result = subprocess.run(
            [sys.executable, "-m", f"bench.{name}"], capture_output=True, text=True, check=False
        )
        print(result.stdout, result.stderr if result.returncode else "", sep="", flush=True)
        outputs.append(f"## {name}\n\n{result.stdout}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.md").write_text("\n".join(outputs))


if __name__ == "__main__":
    main(sys.argv[1:])
