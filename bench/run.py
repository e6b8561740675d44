#!/usr/bin/env python3
"""jobwait benchmark harness: jobwait against the official Huawei Cloud Python SDK, same fake API.

    python3 bench/run.py                 # full run (~14 min on 2 cores), rewrites BENCHMARKS.md
    python3 bench/run.py --quick         # ~3.5 min, writes bench/out/BENCHMARKS.quick.md
    python3 bench/run.py --help          # every flag

bench/README.md describes each phase, what it measures and where the results go; the code is the
package next to this file (bench/jobwait_bench/), the peer is bench/peer/peer_sdk_waiter.py.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from jobwait_bench.cli import main  # noqa: E402  (after the path it is found on)

if __name__ == "__main__":
    main()
