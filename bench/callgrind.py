#!/usr/bin/env python3
"""jobwait's instructions per request under callgrind (the profiling build against the simulator).

    python3 bench/callgrind.py                # builds --profile profiling, then 20 and 120 jobs
    python3 bench/callgrind.py --no-build --annotate 30 --label "URL without format!"

bench/README.md ("Instructions per request") says what is measured; the code is
bench/jobwait_bench/callgrind.py.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from jobwait_bench.callgrind import main  # noqa: E402  (after the path it is found on)

if __name__ == "__main__":
    main()
