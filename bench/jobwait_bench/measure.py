"""How a client run is measured: child processes (tracked by pid, killed by pid or their own
process group only), CPU from os.wait4 and peak RSS from GNU time, the machine's busy time,
request-rate sampling, detection-lag statistics, correctness against the scenario, and the units
the numbers are written in."""
import atexit
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from .config import AK, SK


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


def install_handlers():
    """Every child is killed at exit, on SIGTERM/SIGINT and on SIGALRM (the whole-run budget, see
    --budget)."""
    atexit.register(kill_children)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGALRM, _on_signal)


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


def dur(seconds):
    return f"{int(round(seconds * 1000))}ms"


def fmt(v, digits=1):
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    return f"{v:,}"
