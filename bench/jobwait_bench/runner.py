"""The runs: a fresh simulator process per client, jobwait or the peer against it, and the phases
that need more than one run (rate probe, poll-schedule comparison, validate timing, first
request after start)."""
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import threading
import time

from .config import BIN, LOOPBACK_OPENER, PEER, PROJECT_ID, VENV_PY
from .measure import (child_env, dur, fmt, host_busy_s, jobwait_correctness, lag_stats,
                      peer_correctness, run_measured, sample_requests, settle, window_max,
                      _track, _untrack)
from .scenario import job_id, make_mixed_scenario, make_scenario, short_job_id, write_json


def jobwait_cmd(url, ids, *, interval, max_interval, rate, timeout, schedule=None):
    """schedule: None (jobwait's default, no flag) or "backoff" / "adaptive" (--poll-schedule)."""
    return [str(BIN), "--endpoint", url, "--project-id", PROJECT_ID,
            "--poll-interval", dur(interval), "--poll-max-interval", dur(max_interval),
            "--rate-limit", str(rate), "--timeout", dur(timeout), "--output", "json", "--quiet",
            *(["--poll-schedule", schedule] if schedule else []), *ids]


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


class SimulatorDied(Exception):
    pass


INCIDENTS = []  # what went wrong and was retried, for the report


def run_client(name, cmd, scenario_path, ids, expected, work, *, timeout, sampler=None,
               cache=None):
    """run_client_once, retried once if the simulator process died under it."""
    try:
        return run_client_once(name, cmd, scenario_path, ids, expected, work, timeout=timeout,
                               sampler=sampler, cache=cache)
    except SimulatorDied as e:
        INCIDENTS.append(f"{name}: {e}; phase rerun once")
        print(f"   warning: {e}; rerunning {name} once", file=sys.stderr, flush=True)
        return run_client_once(name, cmd, scenario_path, ids, expected, work, timeout=timeout,
                               sampler=sampler, cache=cache)


def run_client_once(name, cmd, scenario_path, ids, expected, work, *, timeout, sampler=None,
                    cache=None):
    """A fresh simulator, the client, the simulator's stats, SIGTERM. Returns the measurements.
    Also: how much CPU the rest of the machine used meanwhile (others' builds and tests share
    the cores): machine busy time - client - simulator - this harness.
    cache: the XDG_CACHE_HOME of the client (jobwait keeps its durations per job type there);
    by default an empty directory of its own, so no run learns from another."""
    cache = cache or (work / "cache" / name)
    cache.mkdir(parents=True, exist_ok=True)
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
        m = run_measured(cmd, env=child_env({"XDG_CACHE_HOME": str(cache)}), timeout=timeout,
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
    m["jobs"] = len(ids)
    m["cpu_us_per_request"] = m["cpu_s"] / stats["requests"] * 1e6 if stats["requests"] else None
    m["lag"] = lag_stats(stats, ids)
    # Requests × lag: what a schedule trades (fewer requests for more lag or the reverse); per
    # job, in seconds, so that runs of different sizes compare.
    p99 = m["lag"]["p99_ms"]
    m["req_lag_p99"] = stats["requests"] * p99 / 1000 if p99 is not None else None
    m["sim_cpu_s"] = sim_cpu
    m["stderr_tail"] = (work / f"{name}.err").read_text(errors="replace")[-2000:]
    if samples:
        m["rate_samples"] = samples
    if cmd[0] == str(BIN):
        m["correct"] = jobwait_correctness(work / f"{name}.out", expected)
    else:
        m["correct"] = peer_correctness(work / f"{name}.out", expected)
    return m


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


def mixed_bench(args, work):
    """The issue's mixed scenario: n jobs of three types (volumes 3-6 s, servers 15-30 s, images
    40-80 s), all started together. jobwait with --poll-interval 2s --poll-max-interval 30s and
    its default schedule, twice: with an empty duration cache (cold: it learns the types during
    the run) and with the cache the cold run wrote (warm: what a second run on the same cloud
    sees); the peer polling every 2 s (one thread per job). A fresh simulator each."""
    st = {"jobs": args.mixed_jobs, "interval": 2.0, "max_interval": 30.0, "peer_interval": 2.0,
          "rate": 1000.0}
    scen, expected = make_mixed_scenario(st["jobs"], seed=16, tag=0x3117ED)
    st["failing"] = sum(1 for v in expected.values() if v == "failed")
    path = write_json(work / "scenario-mixed.json", scen)
    ids = list(expected)
    ids_file = work / "ids-mixed.txt"
    ids_file.write_text("\n".join(ids) + "\n")
    timeout = 80 + 120
    cache = work / "cache" / "mixed"
    jw = jobwait_cmd("{URL}", ids, interval=st["interval"], max_interval=st["max_interval"],
                     rate=st["rate"], timeout=timeout)
    peer = [str(VENV_PY), str(PEER), "--endpoint", "{URL}", "--project-id", PROJECT_ID,
            "--interval", f"{st['peer_interval']:g}", "--timeout", f"{timeout:g}",
            "--threads", str(st["jobs"]), "--ids-file", str(ids_file)]
    out = {"settings": st}
    for key, cmd, label in (("cold", jw, "jobwait, empty duration cache"),
                            ("peer", peer, f"peer, {st['jobs']} threads"),
                            ("warm", jw, "jobwait, the cache of the cold run")):
        print(f"== mixed scenario: {label}, {st['jobs']} jobs", flush=True)
        m = run_client(f"mixed-{key}", cmd, path, ids, expected, work, timeout=timeout + 60,
                       cache=cache if key != "peer" else None)
        out[key] = m
        print(f"   {m['wall_s']:.1f} s, {m['requests']} requests, lag p50 "
              f"{fmt(m['lag']['p50_ms'])} ms, p99 {fmt(m['lag']['p99_ms'])} ms", flush=True)
    return out


def scale_bench(args, work, many):
    """jobwait alone at several sizes with the settings of the many-jobs run (durations, poll
    and rate limit), one scenario per size: peak RSS and CPU per poll should stay flat per job.
    `many` (that run) is reused as its size's point."""
    s = args.scale_settings
    points = {}
    for n in args.scale_jobs:
        if n == args.many_jobs:
            points[n] = many
            continue
        print(f"== scale: jobwait on {n:,} jobs", flush=True)
        # Short ids above 10,000 jobs: 50,000 of the usual 32-character ones do not fit one
        # command line (E2BIG), and a spec file would measure the spec loader instead.
        scen, exp = make_scenario(n, s["dmin"], s["dmax"], seed=3, tag=0x5CA1E,
                                  ids=short_job_id if n > 10000 else job_id)
        path = write_json(work / f"scenario-scale-{n}.json", scen)
        ids = list(exp)
        timeout = s["dmax"] + n / s["rate"] * 4 + 120
        cmd = jobwait_cmd("{URL}", ids, interval=s["interval"], max_interval=s["max_interval"],
                          rate=s["rate"], timeout=timeout)
        points[n] = run_client(f"scale-{n}", cmd, path, ids, exp, work, timeout=timeout + 60)
        m = points[n]
        print(f"   {m['wall_s']:.1f} s, peak RSS {m['maxrss_kib'] / 1024:.1f} MiB, "
              f"{fmt(m['cpu_us_per_request'])} µs CPU/request", flush=True)
    return {n: points[n] for n in sorted(points)}


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
    """Spawn-to-first-request latency, 1 job and `batch` jobs, see bench/README.md."""
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
