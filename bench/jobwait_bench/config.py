"""Where things are and the fixed values every run shares. No path leaves the repository."""
import os
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent  # bench/jobwait_bench/config.py -> repo
# JOBWAIT_BENCH_BIN measures another build (e.g. target/profiling/jobwait, with --no-build).
BIN = Path(os.environ.get("JOBWAIT_BENCH_BIN") or ROOT / "target" / "release" / "jobwait").resolve()
PEER = ROOT / "bench" / "peer" / "peer_sdk_waiter.py"
VENV = ROOT / "bench" / ".venv-peer"
VENV_PY = VENV / "bin" / "python"
OUT = ROOT / "bench" / "out"
BENCHMARKS = ROOT / "BENCHMARKS.md"
NOTES_MARKER = "<!-- notes: kept by bench/run.py -->"

PROJECT_ID = "0b5c1d2e3f4a4b5c8d9e0f1a2b3c4d5e"
AK = "BENCHAKJOBWAIT0000001"
SK = "benchSecretKeyForTheSimulatorOnly0123456789"

LOOPBACK_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
