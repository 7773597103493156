"""Run the issue's benches in turn and keep their tables: python -m bench [NAME ...]

Each bench runs as its own process (its own servers, temp files and clean memory) and
prints a Markdown table; the tables also go to bench/results/latest.md for the README.
Each can also be run alone, with its own options: python -m bench.NAME --help.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from bench.common import RESULTS

# name -> the target it measures
BENCHES = {
    "throughput": "1. media route vs nginx, one curl reading 512 MiB (local backend)",
    "oci_proxy": "2. media route on the OCI backend vs the SDK reading the loopback server",
    "seek": "3. first byte of a random Range request while 20 streams run",
    "memory": "4. server RSS growth during 50 concurrent reads of 1 GiB",
    "library_oci": "5. sign-in to usable library, 5,000 titles on the loopback OCI server",
    "first_frame": "6. click to first decoded frame in Chromium, MP4 and HLS",
    "startup": "7. streamlit run on the demo library to /_stcore/health",
}


def parse(argv: list[str]) -> list[str]:
    listing = "\n".join(
        f"  {name:<12} python -m bench.{name:<12} target {what}" for name, what in BENCHES.items()
    )
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__.splitlines()[0],
        epilog=f"benches (run one alone with the command shown):\n{listing}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="benches to run (all)")
    names = parser.parse_args(argv).names
    unknown = sorted(set(names) - set(BENCHES))
    if unknown:
        parser.error(f"unknown bench {', '.join(unknown)}; choose from {', '.join(BENCHES)}")
    return names


def main(names: list[str]) -> None:
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
    main(parse(sys.argv[1:]))
