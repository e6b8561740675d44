#!/usr/bin/env python3
"""jobwait benchmark harness: jobwait against the official Huawei Cloud Python SDK, same fake API.

    python3 bench/run.py                 # full run: 1,000 jobs side by side (3 repetitions)
                                         #   + 10,000-job run + poll-schedule comparison,
                                         #   ~14 min on 2 cores
    python3 bench/run.py --quick         # 200 jobs, short durations, 2,000-job run, ~3.5 min
    python3 bench/run.py --jobs 500 --interval 2 --max-interval 2 --rate-limit 1000
    python3 bench/run.py --schedule-jobs 300   # size of the poll-schedule comparison (step 6)

The full run rewrites BENCHMARKS.md at the repository root (hand-written notes below the marker
line `<!-- notes: kept by bench/run.py -->` are kept); --quick writes bench/out/BENCHMARKS.quick.md
instead (unless --write). Raw numbers of every run go to bench/out/results-*.json.

What it does
------------
1. `cargo build --release` (jobwait at target/release/jobwait); creates bench/.venv-peer with
   huaweicloudsdkcore + huaweicloudsdkecs when it is missing (PyPI).
2. Generates a scenario (JSON, which the simulator reads as YAML) in a temp directory: N jobs with
   durations drawn uniformly from a range (5-60 s full, 3-15 s quick), ~30 % of them batch jobs with
   2-5 sub-jobs whose status the simulator derives, ~5 % failing (a FAIL timeline, or in a batch the
   last sub-job to end FAILs, so the job's failure is visible exactly when it becomes terminal),
   `auth: {ak, sk}` so both clients sign every request with AK/SK, and one fixed `project_id`.
3. Side by side, in the same run, for jobwait and for the peer (../shared/bench/
   peer_sdk_waiter.py: the SDK's ShowJob from a thread pool, one thread per job by default so both
   wait on every job at once): a FRESH simulator process (`jobwait simulate --listen 127.0.0.1:0
   --scenario FILE`; base URL = first stdout line; stopped with SIGTERM), then the client on every
   job id with equivalent settings — jobwait `--poll-interval X --poll-max-interval Y --rate-limit R
   --output json --quiet` with the ids as positional arguments, the peer `--interval Y` (its fixed
   interval equals jobwait's longest one, so both promise the same detection-lag bound) — both
   with HUAWEICLOUD_SDK_AK/SK in the environment and proxies removed (loopback only).
   Repeated (--repeat, 3 by default, 1 with --quick), alternating which client goes first; the
   table is the repetition with the median CPU ratio and every repetition is listed. Before each
   phase the harness waits (at most 60 s) for the shared machine to be quiet, and it reports how
   much CPU other processes used during each phase (/proc/stat minus client, simulator, harness).
4. Per client: wall time; user+sys CPU from os.wait4() (the kernel's rusage of that child and
   what it reaped, microsecond resolution); peak RSS from GNU time's %M (`/usr/bin/time -f %M`
   wraps the client: a child forked straight from this Python process would keep the harness's
   RSS as its ru_maxrss high-water mark across exec; apt-get install time if missing); requests
   and requests per job from the simulator's GET /_sim/stats (read before SIGTERM; a fresh
   simulator per client, so every counted request is that client's); CPU per request = client
   CPU / server-counted requests (process start-up, report writing and, for jobwait, the JSON
   report included); detection lag per job = first_terminal_response_ms - terminal_at_ms,
   p50/p99/max by nearest rank over the jobs where a response showed the terminal state;
   correctness = jobwait's report outcome per id vs the scripted outcome, and the peer's printed
   counts vs the scripted counts. The simulator's own CPU is shown too (server cost, not a target).
5. Extra measurements for the targets:
   - many jobs: jobwait alone on 10,000 jobs (2,000 with --quick), peak RSS, errors, outcomes.
     The peer is not run there (10,000 Python threads would dominate the run time; say so).
   - rate limit: the simulator's own `max_requests_per_second` in /_sim/stats (the most request
     arrivals in any sliding one-second window, exact, kept by simulators since commit 3d6c39c)
     for every jobwait run, above all a probe where --rate-limit binds (N jobs, 50/s; 20/s with
     --quick). Cross-check that needs nothing from the simulator: during the probe a sampler
     thread reads /_sim/stats `requests` every 100 ms (timestamp = midpoint of the stats request,
     monotonic clock) and reports the max increase over any pair of samples at most 1.0 s apart
     (requests that really fell in a window of <= 1 s) and an upper bound for any 1-s window
     (pairs spanning up to 1 s + 2 sampling gaps); resolution one sampling gap (~100 ms). Without
     `max_requests_per_second` (older simulators) the verdict falls back to the sampled figure.
   - validate: `jobwait validate --spec F` on a 10,000-job YAML spec, hyperfine (-N, warm-up 3,
     30 runs) when installed, else 30 timed runs; mean, min, max.
   - first request: a simulator without auth and jobs that are SUCCESS from t=0 records the time
     (its clock) of the first response for each job. The harness calibrates that clock against its
     own monotonic clock with direct GETs (offset = midpoint of the fastest probe minus the time
     the simulator recorded; uncertainty = half that probe's round trip). Then it spawns jobwait
     on 1 job (and on N jobs) and reports: first response on the server - moment just before
     Popen. That includes fork/exec, jobwait's start-up, plan, TCP connect and the server parsing
     the request, so it is an upper bound of "first request sent".
6. Poll schedule, jobwait only: its two `--poll-schedule`s side by side on one scenario (its own
   seed and id tag): ~40 % IMS-like `createImage` jobs with `progress: true` (the simulator
   reports entities.process_percent = elapsed / time to terminal), ~30 % batch jobs with 2-5
   sub-jobs as in step 2, the rest plain `createVolume` jobs, ~5 % failing. jobwait runs twice
   on the same ids, a fresh simulator each (as in step 3), with the same `--poll-interval`,
   `--poll-max-interval` and `--rate-limit`: `--poll-schedule backoff` (×1.5 from interval to
   max_interval) and `--poll-schedule adaptive` (the default: reads begin_time, process_percent,
   finished sub-jobs and the durations of finished jobs of the same job_type). Full: 500 jobs
   (--schedule-jobs), durations 20-120 s, interval 1 s, max_interval 15 s, rate limit 1000;
   --quick: 200 jobs, 10-40 s, interval 1 s, max_interval 10 s. Compared: server-counted
   requests (saving = 1 - adaptive / backoff), detection lag p50/p99/max, CPU, wall time,
   correctness; the target wants fewer requests with adaptive and its lag p99 within
   max_interval + 100 ms, both runs as scripted.
Every child runs in its own session and is killed (by its pid/process group) on timeout, on
Ctrl-C and at exit. Only 127.0.0.1 is used.
"""
import argparse
import atexit
import datetime
import json
import math
import os
import platform
import random
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "jobwait"
PEER = (ROOT.parent / "shared" / "bench" / "peer_sdk_waiter.py").resolve()
VENV = ROOT / "bench" / ".venv-peer"
VENV_PY = VENV / "bin" / "python"
OUT = ROOT / "bench" / "out"
BENCHMARKS = ROOT / "BENCHMARKS.md"
NOTES_MARKER = "<!-- notes: kept by bench/run.py -->"

PROJECT_ID = "0b5c1d2e3f4a4b5c8d9e0f1a2b3c4d5e"
AK = "BENCHAKJOBWAIT0000001"
SK = "benchSecretKeyForTheSimulatorOnly0123456789"

LOOPBACK_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))

# ---------------------------------------------------------------------------------------------
# child processes: tracked by pid, killed by pid / own process group only


_children = {}  # pid -> Popen
_children_lock = threading.Lock()


def _track(proc):
    with _children_lock:
        _children[proc.pid] = proc


def _untrack(proc):
    with _children_lock:
        _children.pop(proc.pid, None)


def kill_children():
    with _children_lock:
        procs = list(_children.values())
        _children.clear()
    for proc in procs:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # own session: pgid == pid
        except (ProcessLookupError, PermissionError):
            pass
        try:
            os.waitpid(proc.pid, 0)
        except ChildProcessError:
            pass


def _on_signal(signum, _frame):
    kill_children()
    sys.exit(128 + signum)


atexit.register(kill_children)
signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGINT, _on_signal)
signal.signal(signal.SIGALRM, _on_signal)  # the whole-run budget, see --budget


def child_env(extra=None):
    """The environment of every client: no proxies, no stray jobwait settings or credentials."""
    env = {}
    for key, value in os.environ.items():
        k = key.upper()
        if k.endswith("_PROXY") or k.startswith(("JOBWAIT_", "HUAWEICLOUD_", "OS_", "HW_", "GITHUB_")):
            continue
        env[key] = value
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env["HUAWEICLOUD_SDK_AK"] = AK
    env["HUAWEICLOUD_SDK_SK"] = SK
    env.update(extra or {})
    return env


TIME = shutil.which("time", path="/usr/bin:/bin")


def run_measured(cmd, *, env, timeout, stdout_path, stderr_path, rss=True):
    """Runs cmd to completion. CPU from os.wait4() (kernel rusage of the child and of what it
    reaped, microseconds). Peak RSS from GNU time's %M: a child forked from this (large) Python
    process keeps the parent's RSS as its ru_maxrss high-water mark across exec, so os.wait4 /
    RUSAGE_CHILDREN would report at least the harness's own RSS; under /usr/bin/time the
    pre-exec image is time's (~1 MiB). With rss=False (start-up latency), no wrapper."""
    rss_file = Path(str(stderr_path) + ".rss")
    if rss and TIME:
        cmd = [TIME, "-f", "%M", "-o", str(rss_file), *cmd]
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                start_new_session=True)
    _track(proc)
    timed_out = threading.Event()

    def expire():
        timed_out.set()
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    timer = threading.Timer(timeout, expire)
    timer.daemon = True
    timer.start()
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.monotonic() - t0
    timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    _untrack(proc)
    maxrss, rss_method = ru.ru_maxrss, "wait4 (includes the harness's RSS at fork)"
    if rss and TIME:
        try:
            maxrss = int(rss_file.read_text().split()[-1])
            rss_method = "GNU time %M"
        except (OSError, ValueError, IndexError):
            pass
    return {
        "t_launch": t0,
        "wall_s": wall,
        "user_s": ru.ru_utime,
        "sys_s": ru.ru_stime,
        "cpu_s": ru.ru_utime + ru.ru_stime,
        "maxrss_kib": maxrss,
        "rss_method": rss_method,
        "exit_code": proc.returncode,
        "timed_out": timed_out.is_set(),
    }


class Simulator:
    """`jobwait simulate` as a separate process on 127.0.0.1:0."""

    def __init__(self, scenario_path, log_path):
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(
            [str(BIN), "simulate", "--listen", "127.0.0.1:0", "--scenario", str(scenario_path)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.log,
            env=child_env(), start_new_session=True)
        _track(self.proc)
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        line = self.proc.stdout.readline().decode().strip() if ready else ""
        if not line.startswith("http://127.0.0.1:"):
            self.stop()
            raise SystemExit(f"simulator did not start (first line {line!r}); see {log_path}")
        self.url = line
        self.rusage = None

    def get(self, path, timeout=60):
        with LOOPBACK_OPENER.open(self.url + path, timeout=timeout) as r:
            return r.read()

    def stats(self):
        return json.loads(self.get("/_sim/stats"))

    def stop(self):
        """SIGTERM, wait up to 15 s, else SIGKILL. Returns the simulator's CPU seconds."""
        if self.proc.returncode is None:
            try:
                os.kill(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + 15
            while True:
                pid, status, ru = os.wait4(self.proc.pid, os.WNOHANG)
                if pid:
                    break
                if time.monotonic() > deadline:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    _, status, ru = os.wait4(self.proc.pid, 0)
                    break
                time.sleep(0.05)
            self.proc.returncode = os.waitstatus_to_exitcode(status)
            self.rusage = ru
            _untrack(self.proc)
        self.proc.stdout.close()
        self.log.close()
        return self.rusage.ru_utime + self.rusage.ru_stime if self.rusage else None


# ---------------------------------------------------------------------------------------------
# scenario and spec generation


def job_id(tag, i):
    return f"{tag:08x}{i:024x}"


def make_scenario(n, dmin, dmax, *, seed, tag, sub_share=0.3, fail_share=0.05, auth=True,
                  progress_share=0.0):
    """Returns (scenario dict, {id: expected outcome}). Durations in whole milliseconds.
    A share sub_share of the jobs are batch jobs (createServer, 2-5 sub-jobs), progress_share
    are IMS-like createImage jobs with `progress: true` (the simulator reports
    entities.process_percent), the rest createVolume jobs. One draw picks the kind, so with
    progress_share=0 the scenario is the same as before that parameter existed."""
    rnd = random.Random(seed)
    jobs, expected = [], {}
    for i in range(n):
        jid = job_id(tag, i)
        end = int(rnd.uniform(dmin, dmax) * 1000)
        fail = rnd.random() < fail_share
        kind = rnd.random()
        if kind < sub_share:
            k = rnd.randint(2, 5)
            subs = []
            for s in range(k):
                last = s == k - 1
                sub_end = end if last else int(rnd.uniform(0.3, 1.0) * end)
                sub_fail = fail and last
                sub = {"id": job_id(tag, (i + 1) << 32 | s), "job_type": "createSingleServer",
                       "timeline": [{"status": "INIT", "for": f"{sub_end // 5}ms"},
                                    {"status": "RUNNING", "for": f"{sub_end - sub_end // 5}ms"},
                                    {"status": "FAIL" if sub_fail else "SUCCESS"}]}
                if sub_fail:
                    sub.update(error_code="Ecs.0013", fail_reason="Insufficient EIP quota")
                else:
                    sub["entities"] = {"server_id": f"{rnd.getrandbits(128):032x}"}
                subs.append(sub)
            jobs.append({"id": jid, "job_type": "createServer", "sub_jobs": subs})
        elif kind < sub_share + progress_share:
            job = single_job(jid, "createImage", end, fail, "image_id", rnd.getrandbits(128),
                             ("IMS.0002", "Image quota exceeded"))
            job["progress"] = True
            jobs.append(job)
        else:
            jobs.append(single_job(jid, "createVolume", end, fail, "volume_id", rnd.getrandbits(128),
                                   ("EVS.2024", "Insufficient volume quota")))
        expected[jid] = "failed" if fail else "succeeded"
    scenario = {"project_id": PROJECT_ID, "jobs": jobs}
    if auth:
        scenario["auth"] = {"ak": AK, "sk": SK}
    return scenario, expected


def single_job(jid, job_type, end, fail, id_key, id_bits, error):
    """A job without sub-jobs: INIT (at most 1 s), RUNNING until `end` ms, then SUCCESS or FAIL
    (with `error` = (error_code, fail_reason))."""
    init = min(1000, end // 5)
    job = {"id": jid, "job_type": job_type,
           "timeline": [{"status": "INIT", "for": f"{init}ms"},
                        {"status": "RUNNING", "for": f"{end - init}ms"},
                        {"status": "FAIL" if fail else "SUCCESS"}],
           "entities": {id_key: f"{id_bits:032x}"}}
    if fail:
        job.update(error_code=error[0], fail_reason=error[1])
    return job


def write_json(path, doc):
    path.write_text(json.dumps(doc, separators=(",", ":")))
    return path


# ---------------------------------------------------------------------------------------------
# statistics


def nearest_rank(sorted_values, q):
    if not sorted_values:
        return None
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


def lag_stats(stats, ids):
    lags, undetected = [], 0
    for jid in ids:
        js = stats["jobs"].get(jid, {})
        t, f = js.get("terminal_at_ms"), js.get("first_terminal_response_ms")
        if t is None or f is None:
            undetected += 1
            continue
        lags.append(f - t)
    lags.sort()
    return {"p50_ms": nearest_rank(lags, 0.50), "p99_ms": nearest_rank(lags, 0.99),
            "max_ms": lags[-1] if lags else None, "measured": len(lags), "undetected": undetected}


def jobwait_correctness(report_path, expected):
    try:
        report = json.loads(Path(report_path).read_text())
    except (OSError, ValueError) as e:
        return {"ok": False, "detail": f"no report: {e}", "matched": 0, "outcomes": {}}
    got = {j["id"]: j["outcome"] for j in report.get("jobs", [])}
    outcomes = {}
    for o in got.values():
        outcomes[o] = outcomes.get(o, 0) + 1
    wrong = [jid for jid, want in expected.items() if got.get(jid) != want]
    polls = sum(j.get("polls", 0) for j in report.get("jobs", []))
    return {"ok": not wrong, "matched": len(expected) - len(wrong), "total": len(expected),
            "outcomes": outcomes, "wrong_examples": wrong[:5], "report_polls": polls,
            "exit_code_in_report": report.get("exit_code"), "result": report.get("result")}


def peer_correctness(stdout_path, expected):
    line = next((ln for ln in Path(stdout_path).read_text().splitlines() if ln.startswith("peer:")), "")
    counts = {}
    for part in line.removeprefix("peer:").split(","):
        bits = part.split()
        if len(bits) == 2 and bits[0].isdigit():
            counts[bits[1]] = int(bits[0])
    want_s = sum(1 for v in expected.values() if v == "succeeded")
    want_f = len(expected) - want_s
    ok = (counts.get("succeeded") == want_s and counts.get("failed") == want_f
          and counts.get("timed_out", 0) == 0 and counts.get("errors", 0) == 0)
    return {"ok": ok, "line": line, "counts": counts, "matched": counts.get("succeeded", 0)
            + counts.get("failed", 0) if ok else None, "total": len(expected)}


# ---------------------------------------------------------------------------------------------
# the runs


def dur(seconds):
    return f"{int(round(seconds * 1000))}ms"


def jobwait_cmd(url, ids, *, interval, max_interval, rate, timeout, schedule=None):
    """schedule: None (jobwait's default, no flag) or "backoff" / "adaptive" (--poll-schedule)."""
    return [str(BIN), "--endpoint", url, "--project-id", PROJECT_ID,
            "--poll-interval", dur(interval), "--poll-max-interval", dur(max_interval),
            "--rate-limit", str(rate), "--timeout", dur(timeout), "--output", "json", "--quiet",
            *(["--poll-schedule", schedule] if schedule else []), *ids]


class SimulatorDied(Exception):
    pass


INCIDENTS = []  # what went wrong and was retried, for the report


def host_busy_s():
    """CPU seconds the whole machine spent busy (all CPUs, /proc/stat, USER_HZ ticks)."""
    f = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in f[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


SETTLE_MAX_S = 60.0


def settle(max_wait=None):
    """Waits (at most max_wait s) until the rest of the machine is quiet: less than 0.25 CPU
    busy over one second. Returns (seconds waited, CPUs busy in the last second)."""
    max_wait = SETTLE_MAX_S if max_wait is None else max_wait
    t0 = time.monotonic()
    while True:
        b0 = host_busy_s()
        time.sleep(1.0)
        busy = host_busy_s() - b0
        waited = time.monotonic() - t0
        if busy < 0.25 or waited >= max_wait:
            return waited, busy


def run_client(name, cmd, scenario_path, ids, expected, work, *, timeout, sampler=None):
    """run_client_once, retried once if the simulator process died under it."""
    try:
        return run_client_once(name, cmd, scenario_path, ids, expected, work, timeout=timeout,
                               sampler=sampler)
    except SimulatorDied as e:
        INCIDENTS.append(f"{name}: {e}; phase rerun once")
        print(f"   warning: {e}; rerunning {name} once", file=sys.stderr, flush=True)
        return run_client_once(name, cmd, scenario_path, ids, expected, work, timeout=timeout,
                               sampler=sampler)


def run_client_once(name, cmd, scenario_path, ids, expected, work, *, timeout, sampler=None):
    """A fresh simulator, the client, the simulator's stats, SIGTERM. Returns the measurements.
    Also: how much CPU the rest of the machine used meanwhile (others' builds and tests share
    the cores): machine busy time - client - simulator - this harness."""
    waited, busy_before = settle()
    load_before = os.getloadavg()[0]
    busy0, self0 = host_busy_s(), time.process_time()
    sim = Simulator(scenario_path, work / f"{name}.sim.log")
    try:
        cmd = [c.replace("{URL}", sim.url) for c in cmd]
        stop_sampling = threading.Event()
        samples = []
        if sampler:
            th = threading.Thread(target=sample_requests, args=(sim, samples, stop_sampling),
                                  daemon=True)
            th.start()
        m = run_measured(cmd, env=child_env(), timeout=timeout,
                         stdout_path=work / f"{name}.out", stderr_path=work / f"{name}.err")
        if sampler:
            time.sleep(0.25)  # two more samples after the end
            stop_sampling.set()
            th.join(10)
        try:
            stats = sim.stats()
        except OSError as e:
            sim.stop()
            log = (work / f"{name}.sim.log").read_text(errors="replace")[-600:]
            raise SimulatorDied(f"simulator unreachable after the client ({e}); simulator exit "
                                f"status {sim.proc.returncode}; its log ends: {log!r}") from None
    finally:
        sim_cpu = sim.stop()
    busy = host_busy_s() - busy0
    m["name"] = name
    m["kind"] = "jobwait" if cmd[0] == str(BIN) else "peer"
    m["load_before"] = load_before
    m["settle"] = {"waited_s": waited, "busy_cpus": busy_before}
    m["other_cpu_s"] = max(0.0, busy - m["cpu_s"] - (sim_cpu or 0) - (time.process_time() - self0))
    m["requests"] = stats["requests"]
    # exact sliding 1-s maximum kept by the simulator itself (newer simulators only)
    m["max_rps"] = stats.get("max_requests_per_second")
    m["rejected_auth"] = stats["rejected_auth"]
    m["requests_per_job"] = stats["requests"] / len(ids)
    m["cpu_us_per_request"] = m["cpu_s"] / stats["requests"] * 1e6 if stats["requests"] else None
    m["lag"] = lag_stats(stats, ids)
    m["sim_cpu_s"] = sim_cpu
    m["stderr_tail"] = (work / f"{name}.err").read_text(errors="replace")[-2000:]
    if samples:
        m["rate_samples"] = samples
    if cmd[0] == str(BIN):
        m["correct"] = jobwait_correctness(work / f"{name}.out", expected)
    else:
        m["correct"] = peer_correctness(work / f"{name}.out", expected)
    return m


def sample_requests(sim, samples, stop):
    """Every 100 ms: (midpoint time, server `requests`)."""
    nxt = time.monotonic()
    while not stop.is_set():
        a = time.monotonic()
        try:
            n = json.loads(sim.get("/_sim/stats", timeout=5))["requests"]
        except OSError:
            n = None
        b = time.monotonic()
        if n is not None:
            samples.append(((a + b) / 2, n, b - a))
        nxt += 0.1
        time.sleep(max(0.0, nxt - time.monotonic()))


def window_max(samples):
    """(max count over sample pairs <= 1.0 s apart, upper bound for any 1-s window, max gap)."""
    ts = [s[0] for s in samples]
    rs = [s[1] for s in samples]
    lower = upper = 0
    gap = max((b - a for a, b in zip(ts, ts[1:])), default=None)
    n = len(ts)
    j = 0
    for i in range(n):
        while j + 1 < n and ts[j + 1] - ts[i] <= 1.0:
            j += 1
        lower = max(lower, rs[j] - rs[i])
    for i in range(n - 1):
        # any window [a, a+1) with ts[i] <= a < ts[i+1] ends before ts[i+1] + 1
        k = next((k for k in range(i + 1, n) if ts[k] >= ts[i + 1] + 1.0), n - 1)
        upper = max(upper, rs[k] - rs[i])
    return lower, upper, gap


def rate_probe(args, work):
    scen, expected = make_scenario(args.probe_jobs, args.probe_dmin, args.probe_dmax, seed=7,
                                   tag=0xA7E0)
    path = write_json(work / "scenario-rate.json", scen)
    ids = list(expected)
    timeout = args.probe_dmax + args.probe_jobs / args.probe_rate * 3 + 60
    cmd = jobwait_cmd("{URL}", ids, interval=args.interval, max_interval=args.max_interval,
                      rate=args.probe_rate, timeout=timeout)
    m = run_client("rate-probe", cmd, path, ids, expected, work, timeout=timeout + 60, sampler=True)
    lower, upper, gap = window_max(m["rate_samples"])
    m["window_max"] = lower
    m["window_upper_bound"] = upper
    m["sample_max_gap_s"] = gap
    m["samples"] = len(m["rate_samples"])
    m["rate_limit"] = args.probe_rate
    m["mean_rate"] = m["requests"] / m["wall_s"]
    del m["rate_samples"]
    return m


def schedule_bench(args, work):
    """The same scenario (image jobs reporting process_percent, batch jobs, plain volume jobs),
    jobwait twice with the same settings, a fresh simulator each: --poll-schedule backoff, then
    --poll-schedule adaptive. Returns {"backoff": m, "adaptive": m, "settings": {...}}."""
    st = {"jobs": args.schedule_jobs, "dmin": args.schedule_dmin, "dmax": args.schedule_dmax,
          "interval": args.schedule_interval, "max_interval": args.schedule_max_interval,
          "rate": args.schedule_rate}
    scen, expected = make_scenario(st["jobs"], st["dmin"], st["dmax"], seed=5, tag=0x5C4E,
                                   progress_share=0.4)
    st["image"] = sum(1 for j in scen["jobs"] if j["job_type"] == "createImage")
    st["batch"] = sum(1 for j in scen["jobs"] if "sub_jobs" in j)
    st["volume"] = st["jobs"] - st["image"] - st["batch"]
    st["failing"] = sum(1 for v in expected.values() if v == "failed")
    path = write_json(work / "scenario-schedule.json", scen)
    ids = list(expected)
    timeout = st["dmax"] + 120
    out = {"settings": st}
    for schedule in ("backoff", "adaptive"):
        print(f"== poll schedule {schedule}: jobwait on {st['jobs']} jobs "
              f"({st['image']} image / {st['batch']} batch / {st['volume']} volume)", flush=True)
        cmd = jobwait_cmd("{URL}", ids, interval=st["interval"], max_interval=st["max_interval"],
                          rate=st["rate"], timeout=timeout, schedule=schedule)
        m = run_client(f"schedule-{schedule}", cmd, path, ids, expected, work, timeout=timeout + 60)
        m["schedule"] = schedule
        out[schedule] = m
        print(f"   {m['wall_s']:.1f} s, {m['requests']} requests, lag p99 "
              f"{fmt(m['lag']['p99_ms'])} ms", flush=True)
    return out


def validate_bench(work, n):
    lines = [f"project_id: {PROJECT_ID}", "endpoint: http://127.0.0.1:9", "jobs:"]
    for i in range(n):
        lines.append(f"  - {{ id: {job_id(0xBA11, i)}, service: ecs }}" if i % 2 else
                     f"  - evs:{job_id(0xBA11, i)}")
    spec = work / "spec-validate.yaml"
    spec.write_text("\n".join(lines) + "\n")
    env = child_env()
    chk = subprocess.run([str(BIN), "validate", "--spec", str(spec)], env=env, capture_output=True,
                         timeout=60)
    result = {"jobs": n, "exit_code": chk.returncode,
              "plan_lines": chk.stdout.count(b"\n"), "stderr": chk.stderr.decode()[-500:]}
    hf = shutil.which("hyperfine")
    waited, busy_before = settle()
    result["settle"] = {"waited_s": waited, "busy_cpus": busy_before}
    busy0, t0 = host_busy_s(), time.monotonic()
    if hf:
        out = work / "hyperfine.json"
        subprocess.run([hf, "-N", "--warmup", "3", "--runs", "30", "--export-json", str(out),
                        f"{BIN} validate --spec {spec}"], env=env, check=True, timeout=300,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        r = json.loads(out.read_text())["results"][0]
        result.update(tool="hyperfine -N --warmup 3 --runs 30", mean_ms=r["mean"] * 1e3,
                      stddev_ms=(r["stddev"] or 0) * 1e3, min_ms=r["min"] * 1e3,
                      max_ms=r["max"] * 1e3, median_ms=r["median"] * 1e3,
                      cpu_ms=(r["user"] + r["system"]) * 1e3, runs=len(r["times"]) + 3)
    else:
        times = []
        for _ in range(33):
            t0 = time.monotonic()
            subprocess.run([str(BIN), "validate", "--spec", str(spec)], env=env, timeout=60,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times.append(time.monotonic() - t0)
        times = sorted(times[3:])
        result.update(tool="30 timed runs after 3 warm-ups (time.monotonic around subprocess.run)",
                      mean_ms=sum(times) / len(times) * 1e3, min_ms=times[0] * 1e3,
                      max_ms=times[-1] * 1e3, median_ms=times[len(times) // 2] * 1e3,
                      cpu_ms=None, runs=33)
    span = time.monotonic() - t0
    own = (result["cpu_ms"] or result["mean_ms"]) / 1e3 * result["runs"]
    result["other_cpus"] = max(0.0, (host_busy_s() - busy0 - own) / span)
    return result


def first_request_bench(work, trials, batch):
    """Spawn-to-first-request latency, 1 job and `batch` jobs, see the module docstring."""
    jobs = [{"id": f"probe{i:02d}", "status": "SUCCESS"} for i in range(20)]
    single = [f"single{k:02d}" for k in range(trials)]
    jobs += [{"id": j, "status": "SUCCESS"} for j in single]
    batches = [[f"b{k:02d}x{i:05d}" for i in range(batch)] for k in range(max(1, trials // 2))]
    jobs += [{"id": j, "status": "SUCCESS"} for b in batches for j in b]
    path = write_json(work / "scenario-first.json", {"project_id": PROJECT_ID, "jobs": jobs})
    waited, busy_before = settle()
    busy0, t0, own = host_busy_s(), time.monotonic(), [0.0]
    sim = Simulator(path, work / "first.sim.log")
    try:
        probes = []
        for i in range(20):
            a = time.monotonic()
            sim.get(f"/v1/{PROJECT_ID}/jobs/probe{i:02d}")
            b = time.monotonic()
            probes.append((b - a, (a + b) / 2))
            time.sleep(0.01)
        stats = sim.stats()
        best = min(range(20), key=lambda i: probes[i][0])
        rtt, mid = probes[best]
        # harness_ms = sim_ms + offset
        offset_ms = mid * 1e3 - stats["jobs"][f"probe{best:02d}"]["first_terminal_response_ms"]

        def one(ids, label):
            m = run_measured(jobwait_cmd(sim.url, ids, interval=1, max_interval=1, rate=100000,
                                         timeout=60),
                             env=child_env(), timeout=90, rss=False, stdout_path=work / f"{label}.out",
                             stderr_path=work / f"{label}.err")
            own[0] += m["cpu_s"]
            st = sim.stats()["jobs"]
            first = min(st[j]["first_terminal_response_ms"] for j in ids
                        if st[j]["first_terminal_response_ms"] is not None)
            return first + offset_ms - m["t_launch"] * 1e3, m

        singles, batch_lat = [], []
        for k, jid in enumerate(single):
            lat, m = one([jid], f"first-single-{k}")
            singles.append(lat)
            time.sleep(0.05)
        for k, b in enumerate(batches):
            lat, m = one(b, f"first-batch-{k}")
            batch_lat.append(lat)
            time.sleep(0.05)
    finally:
        sim_cpu = sim.stop() or 0.0
    other_cpus = max(0.0, (host_busy_s() - busy0 - own[0] - sim_cpu) / (time.monotonic() - t0))
    singles.sort()
    batch_lat.sort()
    return {"calibration_rtt_ms": rtt * 1e3, "uncertainty_ms": rtt * 1e3 / 2,
            "settle": {"waited_s": waited, "busy_cpus": busy_before}, "other_cpus": other_cpus,
            "single": {"n": len(singles), "min_ms": singles[0], "median_ms": singles[len(singles) // 2],
                       "max_ms": singles[-1], "all_ms": singles},
            "batch": {"jobs": batch, "n": len(batch_lat), "min_ms": batch_lat[0],
                      "median_ms": batch_lat[len(batch_lat) // 2], "max_ms": batch_lat[-1],
                      "all_ms": batch_lat}}


# ---------------------------------------------------------------------------------------------
# setup, machine, output


def sh(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def build():
    print("== cargo build --release", flush=True)
    r = subprocess.run(["cargo", "build", "--release"], cwd=ROOT, timeout=1200)
    if r.returncode != 0 or not BIN.exists():
        raise SystemExit("cargo build --release failed")


def ensure_venv():
    if VENV_PY.exists() and sh([str(VENV_PY), "-c", "import huaweicloudsdkecs"]).returncode == 0:
        return
    print("== creating bench/.venv-peer (huaweicloudsdkcore huaweicloudsdkecs)", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, timeout=300)
    subprocess.run([str(VENV_PY), "-m", "pip", "install", "-q", "huaweicloudsdkcore",
                    "huaweicloudsdkecs"], check=True, timeout=900)


def ensure_tools():
    """GNU time (peak RSS) and hyperfine (validate timing): apt-get them when missing."""
    global TIME
    for tool, package in (("time", "time"), ("hyperfine", "hyperfine")):
        if shutil.which(tool, path="/usr/bin:/bin"):
            continue
        print(f"== apt-get install -y {package}", flush=True)
        try:
            subprocess.run(["apt-get", "install", "-y", package], timeout=300,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired):
            pass
    TIME = shutil.which("time", path="/usr/bin:/bin")
    if not TIME:
        print("warning: no GNU time; peak RSS falls back to wait4 and includes the harness's RSS",
              file=sys.stderr)


def machine():
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem_kib = next((int(ln.split()[1]) for ln in Path("/proc/meminfo").read_text().splitlines()
                    if ln.startswith("MemTotal:")), 0)
    sdk = sh([str(VENV_PY), "-c", "import importlib.metadata as m;"
              "print(m.version('huaweicloudsdkcore'), m.version('huaweicloudsdkecs'))"]).stdout.split()
    import hashlib
    head = sh(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT).stdout.strip()
    binary = {"sha256": hashlib.sha256(BIN.read_bytes()).hexdigest()[:12],
              "mtime": datetime.datetime.fromtimestamp(BIN.stat().st_mtime, datetime.timezone.utc)
              .strftime("%Y-%m-%d %H:%M:%S UTC")}
    dirty = [ln for ln in sh(["git", "status", "--porcelain", "--", "src", "Cargo.toml", "Cargo.lock"],
                             cwd=ROOT).stdout.splitlines() if ln.strip()]
    return {"nproc": os.cpu_count(), "cpu_model": model, "mem_gib": mem_kib / 1024 / 1024,
            "kernel": platform.release(), "python": platform.python_version(),
            "rustc": sh(["rustc", "--version"]).stdout.strip(),
            "sdk": " / ".join(sdk) if sdk else "?", "commit": head,
            "src_dirty": len(dirty), "binary": binary}


def fmt(v, digits=1):
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    return f"{v:,}"


def ratio(p, j):
    if p is None or j in (None, 0):
        return "–"
    return f"{p / j:,.2f}×"


def comparison_rows(jw, peer):
    def correct(m):
        c = m["correct"]
        if m["kind"] == "jobwait":
            return (f"{c['matched']}/{c['total']} as scripted" + ("" if c["ok"] else " ✗"))
        return (f"{c['counts'].get('succeeded', '?')} ok / {c['counts'].get('failed', '?')} failed"
                + (" = scripted" if c["ok"] else " ✗ (scripted differs)"))
    rows = [
        ("wall time (s)", jw["wall_s"], peer["wall_s"], 2),
        ("user CPU (s)", jw["user_s"], peer["user_s"], 3),
        ("sys CPU (s)", jw["sys_s"], peer["sys_s"], 3),
        ("user+sys CPU (s)", jw["cpu_s"], peer["cpu_s"], 3),
        ("peak RSS (MiB)", jw["maxrss_kib"] / 1024, peer["maxrss_kib"] / 1024, 1),
        ("requests (server-counted)", jw["requests"], peer["requests"], 0),
        ("requests per job", jw["requests_per_job"], peer["requests_per_job"], 2),
        ("CPU per request (µs)", jw["cpu_us_per_request"], peer["cpu_us_per_request"], 1),
        ("detection lag p50 (ms)", jw["lag"]["p50_ms"], peer["lag"]["p50_ms"], 1),
        ("detection lag p99 (ms)", jw["lag"]["p99_ms"], peer["lag"]["p99_ms"], 1),
        ("detection lag max (ms)", jw["lag"]["max_ms"], peer["lag"]["max_ms"], 1),
        ("jobs never seen terminal", jw["lag"]["undetected"], peer["lag"]["undetected"], 0),
        ("simulator CPU (s, server side)", jw["sim_cpu_s"], peer["sim_cpu_s"], 3),
        ("exit code", jw["exit_code"], peer["exit_code"], 0),
        ("other processes' CPU meanwhile (s)", jw["other_cpu_s"], peer["other_cpu_s"], 2),
        ("load average before", jw["load_before"], peer["load_before"], 2),
    ]
    out = []
    for label, a, b, d in rows:
        r = "" if label in ("exit code", "jobs never seen terminal", "load average before",
                            "other processes' CPU meanwhile (s)") else ratio(b, a)
        out.append((label, fmt(a, d), fmt(b, d), r))
    out.append(("correctness", correct(jw), correct(peer), ""))
    return out


def outcomes_text(outcomes):
    return ", ".join(f"{n:,} {o}" for o, n in sorted(outcomes.items(), key=lambda kv: -kv[1])) or "none"


def schedule_saving(sch):
    """Request saving of the adaptive schedule: 1 - adaptive / backoff, in percent."""
    b, a = sch["backoff"]["requests"], sch["adaptive"]["requests"]
    return (1 - a / b) * 100 if b else None


def saving_text(sch):
    """"12.3 % fewer" / "4.5 % more" requests with adaptive than with backoff."""
    v = schedule_saving(sch)
    if v is None:
        return "– % fewer"
    return f"{fmt(v)} % fewer" if v >= 0 else f"{fmt(-v)} % more"


def schedule_summary(sch):
    """One console line for the poll-schedule phase."""
    b, a, st = sch["backoff"], sch["adaptive"], sch["settings"]
    return (f"poll schedule ({st['jobs']:,} jobs, {st['dmin']:g}-{st['dmax']:g} s, interval "
            f"{st['interval']:g} s, max {st['max_interval']:g} s): backoff {b['requests']:,} requests, "
            f"lag p99 {fmt(b['lag']['p99_ms'])} ms; adaptive {a['requests']:,} requests "
            f"({saving_text(sch)}), lag p99 {fmt(a['lag']['p99_ms'])} ms; "
            f"correct: backoff {'yes' if b['correct']['ok'] else 'NO'}, adaptive "
            f"{'yes' if a['correct']['ok'] else 'NO'}")


def schedule_rows(sch):
    """Rows of the poll-schedule table: metric, backoff, adaptive, adaptive / backoff."""
    b, a = sch["backoff"], sch["adaptive"]

    def correct(m):
        c = m["correct"]
        return f"{c['matched']}/{c['total']} as scripted" + ("" if c["ok"] else " ✗")
    rows = [
        ("wall time (s)", b["wall_s"], a["wall_s"], 2, True),
        ("user+sys CPU (s)", b["cpu_s"], a["cpu_s"], 3, True),
        ("requests (server-counted)", b["requests"], a["requests"], 0, True),
        ("requests per job", b["requests_per_job"], a["requests_per_job"], 2, True),
        ("detection lag p50 (ms)", b["lag"]["p50_ms"], a["lag"]["p50_ms"], 1, True),
        ("detection lag p99 (ms)", b["lag"]["p99_ms"], a["lag"]["p99_ms"], 1, True),
        ("detection lag max (ms)", b["lag"]["max_ms"], a["lag"]["max_ms"], 1, True),
        ("jobs never seen terminal", b["lag"]["undetected"], a["lag"]["undetected"], 0, False),
        ("exit code", b["exit_code"], a["exit_code"], 0, False),
    ]
    out = [(label, fmt(x, d), fmt(y, d), ratio(y, x) if r else "") for label, x, y, d, r in rows]
    out.insert(-1, ("correctness", correct(b), correct(a), ""))
    return out


def md_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def text_table(header, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    fmt_row = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths))  # noqa: E731
    return "\n".join([fmt_row(header), fmt_row(["-" * w for w in widths])] + [fmt_row(r) for r in rows])


def targets(res, args):
    jw, peer, many, probe, val, first = (res["jobwait"], res["peer"], res["many"], res["rate"],
                                         res["validate"], res["first"])
    out = []
    cpu_ratio = (peer["cpu_us_per_request"] / jw["cpu_us_per_request"]
                 if jw["cpu_us_per_request"] and peer["cpu_us_per_request"] else None)
    out.append(("CPU per poll ≥ 20× lower than the peer's "
                f"({args.jobs}-job run, AK/SK signing included)",
                f"jobwait {fmt(jw['cpu_us_per_request'])} µs/request, peer "
                f"{fmt(peer['cpu_us_per_request'])} µs/request: {fmt(cpu_ratio, 2)}× lower"
                + (f" (median of {len(res['repeats'])} repetitions: "
                   + ", ".join(f"{r['cpu_ratio']:.2f}×" for r in res["repeats"]) + ")"
                   if len(res["repeats"]) > 1 else ""),
                cpu_ratio is not None and cpu_ratio >= 20))
    rss = many["maxrss_kib"] / 1024
    mc = many["correct"]
    no_error = (mc["ok"] and not many["timed_out"] and many["rejected_auth"] == 0
                and mc["outcomes"].get("errored", 0) == 0 and mc["outcomes"].get("timed_out", 0) == 0)
    full_size = args.many_jobs >= 10000
    out.append((f"{args.many_jobs:,} jobs concurrently, peak RSS ≤ 32 MiB and no error (jobwait only)"
                + ("" if full_size else " — reduced size (--quick), not the 10,000 of the target"),
                f"peak RSS {fmt(rss, 1)} MiB; outcomes {outcomes_text(mc['outcomes'])}, {mc['matched']}/{mc['total']} as "
                f"scripted, exit {many['exit_code']}, {many['rejected_auth']} auth rejections",
                rss <= 32 and no_error and full_size if full_size else None))
    bound = args.max_interval * 1000 + 100
    p99 = jw["lag"]["p99_ms"]
    lag_ok = p99 is not None and p99 <= bound and jw["lag"]["undetected"] == 0
    req_ok = jw["requests"] <= peer["requests"]
    out.append((f"detection lag p99 ≤ max_interval + 100 ms = {bound:.0f} ms",
                f"jobwait p99 {fmt(p99)} ms (max {fmt(jw['lag']['max_ms'])} ms); "
                f"peer p99 {fmt(peer['lag']['p99_ms'])} ms", lag_ok))
    out.append((f"… with no more requests than the peer (jobwait max_interval {args.max_interval:g} s "
                f"vs peer interval {args.max_interval:g} s)",
                f"jobwait {jw['requests']:,} vs peer {peer['requests']:,} requests "
                f"({jw['requests'] / peer['requests']:.3f}× the peer's)"
                + (" ; every repetition: " + ", ".join(
                    f"{r['jobwait_requests'] / r['peer_requests']:.3f}×" for r in res["repeats"])
                   if len(res["repeats"]) > 1 else ""),
                req_ok and all(r["jobwait_requests"] <= r["peer_requests"] for r in res["repeats"])))
    exact = [(probe["max_rps"], probe["rate_limit"], "probe"),
             (jw["max_rps"], args.rate_limit, f"{args.jobs:,}-job run"),
             (many["max_rps"], res["settings"]["many_rate"], f"{args.many_jobs:,}-job run")]
    if probe["max_rps"] is not None:
        rate_text = ("simulator's exact sliding 1-s maximum: "
                     + ", ".join(f"{m:,} at limit {lim:g} ({what})" for m, lim, what in exact)
                     + f"; cross-check by sampling every 100 ms: max {probe['window_max']} in a "
                     f"window ≤ 1 s")
        rate_ok = all(m <= lim for m, lim, _ in exact)
    else:
        rate_text = (f"max {probe['window_max']} requests in a sampled window ≤ 1 s (sampling every "
                     f"100 ms, largest gap {fmt(probe['sample_max_gap_s'] * 1000, 0)} ms); upper "
                     f"bound for any 1-s window {probe['window_upper_bound']}")
        rate_ok = probe["window_max"] <= probe["rate_limit"]
    out.append((f"rate_limit never exceeded in any 1-s window (server-measured; binding probe: "
                f"rate_limit {probe['rate_limit']:g}/s, {args.probe_jobs:,} jobs)",
                rate_text + f"; probe mean {fmt(probe['mean_rate'])}/s", rate_ok))
    out.append((f"`jobwait validate` of a {val['jobs']:,}-job spec ≤ 50 ms",
                f"mean {fmt(val['mean_ms'])} ms wall (min {fmt(val['min_ms'])}, max {fmt(val['max_ms'])}; "
                f"CPU {fmt(val['cpu_ms'])} ms per run; {val['tool']}; others kept "
                f"{fmt(val['other_cpus'], 2)} CPUs busy)", val["exit_code"] == 0 and val["mean_ms"] <= 50))
    s = first["single"]
    out.append(("first request ≤ 10 ms after start (1 job)",
                f"median {fmt(s['median_ms'])} ms, max {fmt(s['max_ms'])} ms over {s['n']} starts "
                f"(± {fmt(first['uncertainty_ms'], 2)} ms clock calibration); with "
                f"{first['batch']['jobs']:,} jobs: median {fmt(first['batch']['median_ms'])} ms",
                s["max_ms"] <= 10))
    sch = res["schedule"]
    sb, sa, sst = sch["backoff"], sch["adaptive"], sch["settings"]
    sbound = sst["max_interval"] * 1000 + 100
    sp99 = sa["lag"]["p99_ms"]
    out.append((f"adaptive schedule: fewer requests than the plain back-off (same interval/max_interval, "
                f"{sst['jobs']:,} jobs), lag p99 ≤ max_interval + 100 ms = {sbound:.0f} ms",
                f"adaptive {sa['requests']:,} vs backoff {sb['requests']:,} requests "
                f"({saving_text(sch)}); lag p99 adaptive {fmt(sp99)} ms, backoff "
                f"{fmt(sb['lag']['p99_ms'])} ms; as scripted: adaptive {sa['correct']['matched']}/"
                f"{sa['correct']['total']}, backoff {sb['correct']['matched']}/{sb['correct']['total']}",
                sa["requests"] < sb["requests"] and sp99 is not None and sp99 <= sbound
                and sa["correct"]["ok"] and sb["correct"]["ok"]))
    return out


def verdict(v):
    return "—" if v is None else ("**met**" if v else "**not met**")


def render_markdown(res, args, cmdline, date, mach):
    jw, peer, many, probe = res["jobwait"], res["peer"], res["many"], res["rate"]
    s = res["settings"]
    sch = res["schedule"]
    ss = sch["settings"]
    many_rss = many["maxrss_kib"] / 1024
    parts = [
        "# Benchmarks",
        "",
        "Generated by `bench/run.py` (the module docstring there describes every measurement). "
        "Do not edit the generated part by hand: rerun the command.",
        "",
        f"- **Command:** `{cmdline}`",
        f"- **Date:** {date} (start of the run)",
        f"- **Machine:** {mach['nproc']} CPUs ({mach['cpu_model']}), {mach['mem_gib']:.1f} GiB RAM, "
        f"Linux {mach['kernel']}",
        f"- **Software:** {mach['rustc']}, jobwait built from commit {mach['commit']}"
        + (f" plus {mach['src_dirty']} uncommitted change(s) under src/ or Cargo.* (built as found)"
           if mach["src_dirty"] else "")
        + f" (binary sha256 {mach['binary']['sha256']}…, built {mach['binary']['mtime']})"
        + f"; peer: Python {mach['python']}, huaweicloudsdkcore / huaweicloudsdkecs {mach['sdk']}",
        "",
        "## Targets",
        "",
        md_table(["target", "measured", "verdict"], [(t, m, verdict(v)) for t, m, v in targets(res, args)]),
        "",
        f"## jobwait vs the peer: {args.jobs:,} jobs, same scenario, fresh simulator each",
        "",
        f"Scenario: {args.jobs:,} jobs, durations {s['dmin']:g}–{s['dmax']:g} s, "
        f"{s['with_sub_jobs']} with 2–5 sub-jobs, {s['failing']} scripted to fail, AK/SK auth. "
        f"jobwait: `--poll-interval {dur(args.interval)} --poll-max-interval {dur(args.max_interval)} "
        f"--rate-limit {args.rate_limit:g}` (it binds only while the first polls of all jobs go out); "
        f"peer: `--interval {args.max_interval:g} --threads "
        f"{s['peer_threads']}` (one thread per job, so it waits on every job at once). Ratio = peer / jobwait.",
        "",
        md_table(["metric", "jobwait", "peer (SDK)", "peer / jobwait"], comparison_rows(jw, peer)),
        "",
        f"Repetitions ({len(res['repeats'])}, alternating which client runs first; the table above "
        "is the one with the median CPU ratio):",
        "",
        md_table(["#", "jobwait µs CPU/request", "peer µs CPU/request", "ratio", "jobwait requests",
                  "peer requests", "jobwait lag p99 (ms)", "peer lag p99 (ms)", "jobwait peak RSS (MiB)"],
                 [(f"{r['rep']}" + (" (table)" if r["chosen"] else ""), fmt(r["jobwait_us"]),
                   fmt(r["peer_us"]), f"{r['cpu_ratio']:.2f}×", fmt(r["jobwait_requests"]),
                   fmt(r["peer_requests"]), fmt(r["jobwait_p99"]), fmt(r["peer_p99"]),
                   fmt(r["jobwait_rss_mib"])) for r in res["repeats"]]),
        "",
        f"## {args.many_jobs:,} jobs, jobwait only",
        "",
        f"Durations {s['many_dmin']:g}–{s['many_dmax']:g} s, `--poll-interval {dur(s['many_interval'])} "
        f"--poll-max-interval {dur(s['many_max_interval'])} --rate-limit {s['many_rate']:g}`. "
        "The peer is not run here: one Python thread per job for this many jobs would dominate the "
        "run time (and the 64-thread default would not wait on them concurrently).",
        "",
        md_table(["metric", "value"], [
            ("wall time (s)", fmt(many["wall_s"], 2)),
            ("user+sys CPU (s)", fmt(many["cpu_s"], 3)),
            ("peak RSS (MiB)", fmt(many_rss, 1)),
            ("requests", fmt(many["requests"])),
            ("requests per job", fmt(many["requests_per_job"], 2)),
            ("CPU per request (µs)", fmt(many["cpu_us_per_request"], 1)),
            ("detection lag p50 / p99 / max (ms)",
             f"{fmt(many['lag']['p50_ms'])} / {fmt(many['lag']['p99_ms'])} / {fmt(many['lag']['max_ms'])}"),
            ("outcomes", outcomes_text(many["correct"]["outcomes"])),
            ("as scripted", f"{many['correct']['matched']}/{many['correct']['total']}"),
            ("exit code", many["exit_code"]),
            ("other processes' CPU meanwhile (s) / load average before",
             f"{fmt(many['other_cpu_s'], 2)} / {fmt(many['load_before'], 2)}"),
        ]),
        "",
        "## Poll schedule: adaptive vs plain back-off (jobwait only)",
        "",
        f"Scenario: {ss['jobs']:,} jobs, durations {ss['dmin']:g}–{ss['dmax']:g} s — {ss['image']} "
        f"`createImage` jobs with `progress: true` (the simulator reports `entities.process_percent` "
        f"as IMS does), {ss['batch']} batch jobs with 2–5 sub-jobs, {ss['volume']} plain "
        f"`createVolume` jobs, {ss['failing']} scripted to fail — waited on twice by jobwait, same "
        f"ids, a fresh simulator each, with `--poll-interval {dur(ss['interval'])} "
        f"--poll-max-interval {dur(ss['max_interval'])} --rate-limit {ss['rate']:g}` and "
        "`--poll-schedule backoff` (×1.5 from interval to max_interval) or `--poll-schedule adaptive` "
        f"(the default); the adaptive run sent {saving_text(sch)} requests than the back-off (saving = "
        f"1 − adaptive / backoff = {fmt(schedule_saving(sch))} %).",
        "",
        md_table(["metric", "backoff", "adaptive", "adaptive / backoff"], schedule_rows(sch)),
        "",
        "## Rate limit (server-measured)",
        "",
        f"jobwait on {args.probe_jobs:,} jobs (durations {args.probe_dmin:g}–{args.probe_dmax:g} s) with "
        f"`--rate-limit {args.probe_rate:g}` (binding: unthrottled it would send far more). A sampler "
        "reads `/_sim/stats` `requests` every 100 ms (time = midpoint of the stats request); "
        f"{probe['samples']} samples, largest gap {fmt(probe['sample_max_gap_s'] * 1000, 0)} ms. "
        f"Max requests between two samples ≤ 1.0 s apart: **{probe['window_max']}**; upper bound for "
        f"any 1-s window (pairs spanning ≤ 1 s + 2 gaps): {probe['window_upper_bound']}; mean "
        f"{fmt(probe['mean_rate'])}/s over {fmt(probe['wall_s'], 1)} s; outcomes "
        f"{outcomes_text(probe['correct']['outcomes'])}. Resolution of the sampling: one gap. "
        + (f"The simulator's own exact figure (`max_requests_per_second`, a sliding window over "
           f"request arrival times): **{probe['max_rps']}** at rate_limit {probe['rate_limit']:g}; "
           f"{jw['max_rps']} in the {args.jobs:,}-job run at {args.rate_limit:g}; {many['max_rps']} "
           f"in the {args.many_jobs:,}-job run at {s['many_rate']:g}."
           if probe["max_rps"] is not None else
           "This simulator keeps no per-request times; an exact check needs them (or a sliding "
           "1-s maximum kept by the simulator)."),
        "",
        "## Start-up",
        "",
        f"- `jobwait validate --spec` on {res['validate']['jobs']:,} jobs ({res['validate']['tool']}): "
        f"mean {fmt(res['validate']['mean_ms'])} ms, median {fmt(res['validate']['median_ms'])} ms, "
        f"min {fmt(res['validate']['min_ms'])} ms, max {fmt(res['validate']['max_ms'])} ms; exit "
        f"{res['validate']['exit_code']}, {res['validate']['plan_lines']:,} plan lines; CPU (user+sys) "
        f"{fmt(res['validate']['cpu_ms'])} ms per run; other processes kept "
        f"{fmt(res['validate']['other_cpus'], 2)} CPUs busy meanwhile.",
        f"- First request after start, measured on the server: spawn (just before `Popen`) to the "
        f"simulator handling jobwait's first request, the simulator's clock calibrated against the "
        f"harness's with direct GETs (round trip {fmt(res['first']['calibration_rtt_ms'], 2)} ms, so "
        f"± {fmt(res['first']['uncertainty_ms'], 2)} ms). 1 job: min {fmt(res['first']['single']['min_ms'], 2)}, "
        f"median {fmt(res['first']['single']['median_ms'], 2)}, max {fmt(res['first']['single']['max_ms'], 2)} ms "
        f"over {res['first']['single']['n']} starts; {res['first']['batch']['jobs']:,} jobs: min "
        f"{fmt(res['first']['batch']['min_ms'], 2)}, median {fmt(res['first']['batch']['median_ms'], 2)}, "
        f"max {fmt(res['first']['batch']['max_ms'], 2)} ms over {res['first']['batch']['n']} starts; "
        f"other processes kept {fmt(res['first']['other_cpus'], 2)} CPUs busy meanwhile.",
        "",
        "Contention: this machine is shared (other sessions build and test at the same time). "
        "Before each phase the harness waits (up to 60 s, 10 s with --quick) until the machine is "
        "below 0.25 busy CPUs for one second. "
        "\"Other processes' CPU meanwhile\" is the machine's busy time during the phase (/proc/stat) "
        "minus the client, the simulator and the harness; CPU seconds of the client are its own "
        "rusage and hardly move with contention, wall time and detection lag do."
        + ("" if not INCIDENTS else " Incidents: " + "; ".join(INCIDENTS) + "."),
        "",
        "Detection lag = `first_terminal_response_ms - terminal_at_ms` per job from `/_sim/stats`, "
        "percentiles by nearest rank. CPU is the client process's own rusage (`os.wait4`, µs "
        "resolution); peak RSS is GNU time's `%M` for it (a child forked from the Python harness "
        "would carry the harness's RSS as its high-water mark). CPU per request divides the whole "
        "process's CPU (start-up and report included) by the server-counted requests.",
        "",
    ]
    return "\n".join(parts)


def write_benchmarks(path, text):
    notes = ""
    if path.exists():
        old = path.read_text()
        if NOTES_MARKER in old:
            notes = old[old.index(NOTES_MARKER):]
    if not notes:
        notes = NOTES_MARKER + "\n\n## Notes\n\n(hand-written notes below this line survive reruns)\n"
    path.write_text(text + "\n" + notes)


# ---------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description="jobwait vs the Huawei Cloud Python SDK; see the docstring.")
    ap.add_argument("--quick", action="store_true", help="200 jobs, short durations (~3.5 min)")
    ap.add_argument("--jobs", type=int, help="jobs in the side-by-side run (default 1000, quick 200)")
    ap.add_argument("--interval", type=float, default=2.0, help="jobwait --poll-interval, s (2)")
    ap.add_argument("--max-interval", type=float, default=2.0,
                    help="jobwait --poll-max-interval and the peer's --interval, s (2)")
    ap.add_argument("--rate-limit", type=float, help="jobwait --rate-limit in the side-by-side run "
                    "(default 2 × jobs / interval: binds only while the first polls go out)")
    ap.add_argument("--peer-threads", type=int, help="peer --threads (default: one per job)")
    ap.add_argument("--many-jobs", type=int, help="jobs in the jobwait-only run (10000, quick 2000)")
    ap.add_argument("--probe-rate", type=float, help="binding rate limit of the rate probe (50, quick 20)")
    ap.add_argument("--schedule-jobs", type=int,
                    help="jobs in the poll-schedule comparison, backoff vs adaptive (500, quick 200)")
    ap.add_argument("--write", action="store_true", help="with --quick: update BENCHMARKS.md too")
    ap.add_argument("--repeat", type=int, help="side-by-side repetitions (default 3, quick 1)")
    ap.add_argument("--no-build", action="store_true", help="skip cargo build --release")
    ap.add_argument("--keep", action="store_true", help="keep the temp directory (scenarios, logs)")
    ap.add_argument("--budget", type=int, default=1800,
                    help="hard limit for the whole run in seconds; then every child is killed (1800)")
    args = ap.parse_args()
    signal.alarm(args.budget)
    global SETTLE_MAX_S
    SETTLE_MAX_S = 10.0 if args.quick else 60.0
    q = args.quick
    args.jobs = args.jobs or (200 if q else 1000)
    args.repeat = args.repeat or (1 if q else 3)
    args.many_jobs = args.many_jobs or (2000 if q else 10000)
    args.probe_rate = args.probe_rate or (20.0 if q else 50.0)
    args.rate_limit = args.rate_limit or float(max(100, math.ceil(2 * args.jobs / args.interval)))
    peer_threads = args.peer_threads or args.jobs
    dmin, dmax = (3.0, 15.0) if q else (5.0, 60.0)
    many_dmin, many_dmax = (3.0, 10.0) if q else (10.0, 40.0)
    many_interval, many_max_interval, many_rate = 5.0, 10.0, 2000.0
    args.probe_jobs = 200 if q else 1000
    args.probe_dmin, args.probe_dmax = (3.0, 8.0) if q else (5.0, 20.0)
    args.schedule_jobs = args.schedule_jobs or (200 if q else 500)
    args.schedule_dmin, args.schedule_dmax = (10.0, 40.0) if q else (20.0, 120.0)
    args.schedule_interval, args.schedule_max_interval = (1.0, 10.0) if q else (1.0, 15.0)
    args.schedule_rate = 1000.0
    cmdline = "python3 bench/run.py" + (" " + " ".join(sys.argv[1:]) if sys.argv[1:] else "")

    started = time.monotonic()
    if not args.no_build:
        build()
    ensure_venv()
    ensure_tools()
    mach = machine()  # now: the tree the binary was built from (others keep committing)
    if not PEER.exists():
        raise SystemExit(f"peer script missing: {PEER}")
    OUT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="jobwait-bench-"))
    if not args.keep:
        atexit.register(shutil.rmtree, work, True)
    print(f"== work dir {work}", flush=True)

    res = {}
    scen, expected = make_scenario(args.jobs, dmin, dmax, seed=1, tag=0x5EED)
    res["settings"] = {
        "dmin": dmin, "dmax": dmax, "peer_threads": peer_threads,
        "with_sub_jobs": sum(1 for j in scen["jobs"] if "sub_jobs" in j),
        "failing": sum(1 for v in expected.values() if v == "failed"),
        "many_dmin": many_dmin, "many_dmax": many_dmax, "many_interval": many_interval,
        "many_max_interval": many_max_interval, "many_rate": many_rate,
    }
    spath = write_json(work / "scenario.json", scen)
    ids = list(expected)
    client_timeout = dmax + 120
    hard = client_timeout + 60

    ids_file = work / "ids.txt"
    ids_file.write_text("\n".join(ids) + "\n")
    jw_cmd = jobwait_cmd("{URL}", ids, interval=args.interval, max_interval=args.max_interval,
                         rate=args.rate_limit, timeout=client_timeout)
    peer_cmd = [str(VENV_PY), str(PEER), "--endpoint", "{URL}", "--project-id", PROJECT_ID,
                "--interval", f"{args.max_interval:g}", "--timeout", f"{client_timeout:g}",
                "--threads", str(peer_threads), "--ids-file", str(ids_file)]
    pairs = []
    for rep in range(args.repeat):
        pair = {}
        # alternate the order so that neither client always runs first
        order = ("jobwait", "peer") if rep % 2 == 0 else ("peer", "jobwait")
        for who in order:
            print(f"== [{rep + 1}/{args.repeat}] {who} on {args.jobs} jobs"
                  + (f", {peer_threads} threads" if who == "peer" else ""), flush=True)
            pair[who] = run_client(f"{who}-{rep + 1}", jw_cmd if who == "jobwait" else peer_cmd,
                                   spath, ids, expected, work, timeout=hard)
            print(f"   {pair[who]['wall_s']:.1f} s, {pair[who]['requests']} requests, "
                  f"{pair[who]['cpu_us_per_request']:.1f} µs CPU/request", flush=True)
        pair["cpu_ratio"] = pair["peer"]["cpu_us_per_request"] / pair["jobwait"]["cpu_us_per_request"]
        pairs.append(pair)
    # the table shows the repetition with the median CPU ratio; every repetition is listed too
    chosen = sorted(pairs, key=lambda pr: pr["cpu_ratio"])[(len(pairs) - 1) // 2]
    res["jobwait"], res["peer"] = chosen["jobwait"], chosen["peer"]
    res["repeats"] = [{"rep": i + 1, "cpu_ratio": pr["cpu_ratio"],
                       "jobwait_us": pr["jobwait"]["cpu_us_per_request"],
                       "peer_us": pr["peer"]["cpu_us_per_request"],
                       "jobwait_requests": pr["jobwait"]["requests"],
                       "peer_requests": pr["peer"]["requests"],
                       "jobwait_p99": pr["jobwait"]["lag"]["p99_ms"],
                       "peer_p99": pr["peer"]["lag"]["p99_ms"],
                       "jobwait_rss_mib": pr["jobwait"]["maxrss_kib"] / 1024,
                       "chosen": pr is chosen} for i, pr in enumerate(pairs)]

    print(f"== jobwait on {args.many_jobs} jobs", flush=True)
    mscen, mexp = make_scenario(args.many_jobs, many_dmin, many_dmax, seed=2, tag=0x3A11)
    mpath = write_json(work / "scenario-many.json", mscen)
    mids = list(mexp)
    mtimeout = many_dmax + args.many_jobs / many_rate * 4 + 120
    res["many"] = run_client(
        "many", jobwait_cmd("{URL}", mids, interval=many_interval, max_interval=many_max_interval,
                            rate=many_rate, timeout=mtimeout),
        mpath, mids, mexp, work, timeout=mtimeout + 60)
    print(f"   {res['many']['wall_s']:.1f} s, peak RSS {res['many']['maxrss_kib'] / 1024:.1f} MiB",
          flush=True)

    print(f"== rate probe: {args.probe_jobs} jobs at --rate-limit {args.probe_rate:g}", flush=True)
    res["rate"] = rate_probe(args, work)
    print(f"   max {res['rate']['window_max']} requests in a window <= 1 s", flush=True)

    print("== validate (10,000-job spec)", flush=True)
    res["validate"] = validate_bench(work, 10000)
    print(f"   mean {res['validate']['mean_ms']:.1f} ms", flush=True)

    print("== first request after start", flush=True)
    res["first"] = first_request_bench(work, trials=10 if q else 20, batch=args.jobs)
    print(f"   1 job median {res['first']['single']['median_ms']:.2f} ms", flush=True)

    res["schedule"] = schedule_bench(args, work)

    date = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(
        seconds=time.monotonic() - started)).strftime("%Y-%m-%d %H:%M UTC")
    res.update(machine=mach, date=date, command=cmdline, incidents=INCIDENTS,
               args={k: v for k, v in vars(args).items()}, total_s=time.monotonic() - started)

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    (OUT / f"results-{'quick' if q else 'full'}-{stamp}.json").write_text(json.dumps(res, indent=1))

    print()
    print(text_table(["metric", "jobwait", "peer (SDK)", "peer / jobwait"],
                     comparison_rows(res["jobwait"], res["peer"])))
    print()
    print(schedule_summary(res["schedule"]))
    print()
    for t, m, v in targets(res, args):
        print(f"[{ {True: 'MET', False: 'NOT MET', None: '—'}[v] }] {t}\n        {m}")
    md = render_markdown(res, args, cmdline, date, mach)
    dest = BENCHMARKS if (not q or args.write) else OUT / "BENCHMARKS.quick.md"
    write_benchmarks(dest, md)
    print(f"\nwrote {dest.relative_to(ROOT)}; raw results in bench/out/; total {res['total_s']:.0f} s")
    if any(r.get("timed_out") for r in (res["jobwait"], res["peer"], res["many"], res["rate"],
                                        res["schedule"]["backoff"], res["schedule"]["adaptive"])):
        print("warning: a client hit the harness's hard timeout", file=sys.stderr)


if __name__ == "__main__":
    main()
