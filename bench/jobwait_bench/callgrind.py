"""Instructions per request under callgrind: the CPU-per-poll measure that does not move with
the load of a shared machine (bench/README.md, "Instructions per request").

jobwait's `profiling` build (release code with symbols) runs under `valgrind --tool=callgrind`
against a simulator (the same binary, not under valgrind) twice, on a small and a large scenario
of the side-by-side run's kind (AK/SK signing, ~30 % batch jobs with sub-jobs); the marginal
cost of a request is the difference of the instruction totals over the difference of the
server-counted requests, so start-up, planning and the report cancel out."""
import argparse
import datetime
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from . import measure
from .config import OUT, PROJECT_ID, ROOT
from .measure import child_env, dur, run_measured
from .scenario import make_scenario, write_json

PROFILING_BIN = ROOT / "target" / "profiling" / "jobwait"


def simulator(scenario, log):
    """The simulator from the profiling binary (a jobwait_bench.runner.Simulator with this path)."""
    from . import runner
    saved = runner.BIN
    runner.BIN = PROFILING_BIN
    try:
        return runner.Simulator(scenario, log)
    finally:
        runner.BIN = saved


def one(n, work, *, interval, dmin, dmax, seed):
    scen, _ = make_scenario(n, dmin, dmax, seed=seed, tag=0xCA11 + n)
    path = write_json(work / f"cg-{n}.json", scen)
    ids = [j["id"] for j in scen["jobs"]]
    out = work / f"callgrind-{n}.out"
    cache = work / f"cache-{n}"
    cache.mkdir()
    sim = simulator(path, work / f"cg-{n}.sim.log")
    try:
        cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
               str(PROFILING_BIN), "--endpoint", sim.url, "--project-id", PROJECT_ID,
               "--poll-interval", dur(interval), "--poll-max-interval", dur(interval),
               "--rate-limit", "100000", "--timeout", dur(dmax + 120), "--output", "json",
               "--quiet", *ids]
        m = run_measured(cmd, env=child_env({"XDG_CACHE_HOME": str(cache)}), timeout=dmax + 600,
                         rss=False, stdout_path=work / f"cg-{n}.stdout",
                         stderr_path=work / f"cg-{n}.stderr")
        requests = sim.stats()["requests"]
    finally:
        sim.stop()
    text = out.read_text(errors="replace")
    total = next((int(x) for x in re.findall(r"^(?:totals|summary):\s*(\d+)", text, re.M)), None)
    return {"jobs": n, "requests": requests, "instructions": total, "exit_code": m["exit_code"],
            "wall_s": m["wall_s"], "out": str(out)}


def main():
    ap = argparse.ArgumentParser(description="jobwait's instructions per request under callgrind.")
    ap.add_argument("--small", type=int, default=20, help="jobs in the small run (20)")
    ap.add_argument("--large", type=int, default=120, help="jobs in the large run (120)")
    ap.add_argument("--interval", type=float, default=1.0, help="poll interval = max, s (1)")
    ap.add_argument("--no-build", action="store_true", help="skip cargo build --profile profiling")
    ap.add_argument("--annotate", type=int, default=0, metavar="N",
                    help="print the N functions with the most inclusive instructions (large run)")
    ap.add_argument("--label", default="", help="a label for the raw results (e.g. the change)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the callgrind output files (their directory is printed)")
    args = ap.parse_args()
    measure.install_handlers()
    if not shutil.which("valgrind"):
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    if not args.no_build:
        print("== cargo build --profile profiling", flush=True)
        subprocess.run(["cargo", "build", "--profile", "profiling"], cwd=ROOT, check=True,
                       timeout=3600)
    work = Path(tempfile.mkdtemp(prefix="jobwait-callgrind-"))
    try:
        runs = [one(n, work, interval=args.interval, dmin=3.0, dmax=8.0, seed=11)
                for n in (args.small, args.large)]
        small, large = runs
        marginal = ((large["instructions"] - small["instructions"])
                    / (large["requests"] - small["requests"]))
        whole = large["instructions"] / large["requests"]
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src", "Cargo.toml",
                                "Cargo.lock"], cwd=ROOT, capture_output=True, text=True).stdout
        res = {"label": args.label, "commit": commit, "dirty": bool(dirty.strip()),
               "runs": runs, "marginal_per_request": marginal, "whole_per_request": whole,
               "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
        for r in runs:
            print(f"{r['jobs']:>5} jobs: {r['requests']:>6} requests, {r['instructions']:>14,} "
                  f"instructions (exit {r['exit_code']}, {r['wall_s']:.1f} s)")
        print(f"marginal: {marginal:,.0f} instructions per request; whole process "
              f"{whole:,.0f} per request ({args.large} jobs); commit {commit}"
              + (" + uncommitted changes" if res["dirty"] else ""))
        if args.annotate:
            ann = subprocess.run(["callgrind_annotate", "--inclusive=yes", large["out"]],
                                 capture_output=True, text=True).stdout
            lines = [ln for ln in ann.splitlines() if re.match(r"^\s*[\d,]+ \(", ln)]
            print("\n".join(lines[:args.annotate]))
        OUT.mkdir(parents=True, exist_ok=True)
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        (OUT / f"callgrind-{stamp}.json").write_text(json.dumps(res, indent=1))
    finally:
        if args.keep:
            print(f"callgrind outputs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
