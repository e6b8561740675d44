"""Spec files at scale (issue 16, target 1 and the validate rows of the scale curve): YAML spec
files of 10,000 / 100,000 / 1,000,000 jobs, `jobwait validate` on the large ones (hyperfine for
the time, GNU time for the peak RSS), and a 10,000-job wait whose jobs come from a spec *file*
(not the command line) against the simulator, for its peak RSS.

Kept in its own module so the phases of the other runs stay as they are; `bench/run.py
--spec-scale` runs this phase alone, and a full run runs it too."""
import json
import shutil
import subprocess
import time

from .config import BIN, PROJECT_ID
from .measure import TIME, child_env, fmt, host_busy_s, settle
from .runner import jobwait_cmd, run_client
from .scenario import job_id, make_scenario, write_json

WAIT_JOBS = 10_000
VALIDATE_SIZES = (100_000, 1_000_000)
# The targets (issue 16): the file wait below the 25 MiB of ids on the command line, validate of
# 100,000 jobs within a second and 64 MiB.
WAIT_RSS_MIB = 24
VALIDATE_S = 1.0
VALIDATE_RSS_MIB = 64


def write_yaml_spec(path, ids, *, endpoint=None):
    """A YAML spec listing `ids`: every other job an object in flow style with its service, the
    others `SERVICE:ID` strings (the two forms users write), all on the ecs service."""
    with open(path, "w") as f:
        f.write(f"project_id: {PROJECT_ID}\n")
        if endpoint:
            f.write(f"endpoint: {endpoint}\n")
        f.write("jobs:\n")
        for i, jid in enumerate(ids):
            f.write(f"  - {{ id: {jid}, service: ecs }}\n" if i % 2 else f"  - ecs:{jid}\n")
    return path


def peak_rss_kib(cmd, env, timeout):
    """(peak RSS in KiB from GNU time, exit code, wall seconds) of one run of cmd."""
    t0 = time.monotonic()
    p = subprocess.run([TIME, "-f", "%M", *cmd], env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=timeout)
    wall = time.monotonic() - t0
    last = p.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["0"]
    try:
        rss = int(last[0])
    except ValueError:
        rss = None
    return rss, p.returncode, wall


def validate_point(work, n):
    """`jobwait validate` of an n-job YAML spec: peak RSS (GNU time, one run) and time
    (hyperfine -N, 1 warm-up; 10 runs up to 100,000 jobs, 3 above)."""
    ids = [job_id(0x5CA1E, i) for i in range(n)]
    spec = write_yaml_spec(work / f"spec-scale-{n}.yaml", ids, endpoint="http://127.0.0.1:9")
    env = child_env()
    cmd = [str(BIN), "validate", "--spec", str(spec)]
    waited, busy_before = settle()
    rss, code, wall = peak_rss_kib(cmd, env, timeout=600)
    result = {"jobs": n, "bytes": spec.stat().st_size, "exit_code": code, "maxrss_kib": rss,
              "settle": {"waited_s": waited, "busy_cpus": busy_before}}
    runs = 10 if n <= 100_000 else 3
    hf = shutil.which("hyperfine")
    busy0, t0 = host_busy_s(), time.monotonic()
    if hf:
        out = work / f"hyperfine-spec-{n}.json"
        # stdout to /dev/null: the plan in words is what a terminal would show, not the cost.
        subprocess.run([hf, "-N", "--warmup", "1", "--runs", str(runs), "--export-json", str(out),
                        "--output", "null", " ".join(cmd)], env=env, check=True, timeout=1200,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        r = json.loads(out.read_text())["results"][0]
        result.update(tool=f"hyperfine -N --warmup 1 --runs {runs}", mean_s=r["mean"],
                      min_s=r["min"], max_s=r["max"], cpu_s=r["user"] + r["system"], runs=runs + 1)
    else:
        times = []
        for _ in range(runs):
            t = time.monotonic()
            subprocess.run(cmd, env=env, timeout=600, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            times.append(time.monotonic() - t)
        result.update(tool=f"{runs} timed runs", mean_s=sum(times) / runs, min_s=min(times),
                      max_s=max(times), cpu_s=None, runs=runs)
    own = (result["cpu_s"] or result["mean_s"]) * result["runs"]
    result["other_cpus"] = max(0.0, (host_busy_s() - busy0 - own) / (time.monotonic() - t0))
    return result


def file_wait(work, n=WAIT_JOBS):
    """jobwait on n jobs listed in a YAML spec file, against the simulator, with the settings of
    the n-job command-line run (interval 5 s, max 10 s, 2,000/s): its peak RSS and outcomes."""
    dmin, dmax, rate = 10.0, 40.0, 2000.0
    scen, expected = make_scenario(n, dmin, dmax, seed=2, tag=0x3A11)
    path = write_json(work / "scenario-spec-file.json", scen)
    ids = list(expected)
    spec = write_yaml_spec(work / f"spec-wait-{n}.yaml", ids)
    timeout = dmax + n / rate * 4 + 120
    cmd = jobwait_cmd("{URL}", [], interval=5.0, max_interval=10.0, rate=rate, timeout=timeout)
    cmd += ["--spec", str(spec)]
    return run_client("spec-file-wait", cmd, path, ids, expected, work, timeout=timeout + 60)


def run(work):
    """The phase: the file wait, then validate at each size. Returns the raw results."""
    res = {}
    print(f"== spec files: jobwait on {WAIT_JOBS:,} jobs from a YAML spec file", flush=True)
    res["wait"] = file_wait(work)
    print(f"   {res['wait']['wall_s']:.1f} s, peak RSS {res['wait']['maxrss_kib'] / 1024:.1f} MiB",
          flush=True)
    res["validate"] = []
    for n in VALIDATE_SIZES:
        print(f"== spec files: validate of a {n:,}-job YAML spec", flush=True)
        v = validate_point(work, n)
        res["validate"].append(v)
        print(f"   mean {v['mean_s']:.3f} s, peak RSS {mib(v['maxrss_kib'])} MiB, exit "
              f"{v['exit_code']}", flush=True)
    return res


def mib(kib):
    return fmt(kib / 1024, 1) if kib is not None else "—"


def targets(res):
    """(target, measured, met) lines for the Targets table."""
    w = res["wait"]
    c = w["correct"]
    ok = (c["ok"] and not w["timed_out"] and w["exit_code"] in (0, 1)
          and c["outcomes"].get("errored", 0) == 0)
    out = [(f"{WAIT_JOBS:,}-job YAML spec file wait peak RSS ≤ {WAIT_RSS_MIB} MiB",
            f"peak RSS {mib(w['maxrss_kib'])} MiB; {c['matched']}/{c['total']} as scripted, "
            f"exit {w['exit_code']}",
            ok and w["maxrss_kib"] / 1024 <= WAIT_RSS_MIB)]
    for v in res["validate"]:
        if v["jobs"] != 100_000:
            continue
        out.append((f"validate {v['jobs']:,}-job YAML ≤ {VALIDATE_S:g} s and ≤ {VALIDATE_RSS_MIB} MiB",
                    f"mean {fmt(v['mean_s'] * 1000, 0)} ms (min {fmt(v['min_s'] * 1000, 0)}, max "
                    f"{fmt(v['max_s'] * 1000, 0)}; {v['tool']}), peak RSS {mib(v['maxrss_kib'])} MiB "
                    f"(GNU time), exit {v['exit_code']}; others kept {fmt(v['other_cpus'], 2)} CPUs busy",
                    v["exit_code"] == 0 and v["mean_s"] <= VALIDATE_S
                    and v["maxrss_kib"] is not None and v["maxrss_kib"] / 1024 <= VALIDATE_RSS_MIB))
    return out


def scale_rows(res):
    """Rows of the scale curve for validate: (what, jobs, peak RSS MiB, time, per job)."""
    rows = []
    for v in res["validate"]:
        per_job = v["maxrss_kib"] * 1024 / v["jobs"] if v["maxrss_kib"] else None
        rows.append([f"validate (YAML, {v['bytes'] / 2**20:.1f} MiB file)", f"{v['jobs']:,}",
                     mib(v["maxrss_kib"]), f"{fmt(v['mean_s'] * 1000, 0)} ms",
                     f"{fmt(per_job, 0)} B, {fmt(v['mean_s'] / v['jobs'] * 1e6, 2)} µs"])
    return rows


SCALE_HEADER = ["run", "jobs", "peak RSS (MiB)", "time", "per job (RSS, time)"]


def markdown(res):
    """The phase's section of BENCHMARKS.md (lines), or nothing when it did not run."""
    if not res:
        return []
    from .report import md_table  # report imports this module at its top
    w = res["wait"]
    return [
        "## Spec files at scale",
        "",
        f"YAML spec files written by `bench/jobwait_bench/spec_scale.py` (every other job a flow "
        f"object `{{ id: …, service: ecs }}`, the others `ecs:…` strings). The wait: jobwait on "
        f"{WAIT_JOBS:,} jobs listed in a spec file (`--spec`, not arguments), the scenario and "
        f"settings of the {WAIT_JOBS:,}-job run; peak RSS by GNU time. validate: `jobwait validate "
        f"--spec F` with standard output to /dev/null, time by hyperfine, peak RSS by GNU time "
        f"(one run).",
        "",
        md_table(SCALE_HEADER, [[f"wait from a spec file ({w['wall_s']:.1f} s)", f"{WAIT_JOBS:,}",
                                 mib(w["maxrss_kib"]), f"{fmt(w['cpu_s'], 2)} s CPU",
                                 f"{fmt(w['maxrss_kib'] * 1024 / WAIT_JOBS, 0)} B"]]
                 + scale_rows(res)),
        "",
    ]


def main(work, cmdline, mach):
    """`bench/run.py --spec-scale`: this phase alone; its lines on the console, raw results in
    bench/out/ (BENCHMARKS.md is rewritten by a full run only)."""
    import datetime
    from .config import OUT
    res = run(work)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    OUT.mkdir(parents=True, exist_ok=True)
    dest = OUT / f"results-spec-scale-{stamp}.json"
    dest.write_text(json.dumps({"spec_scale": res, "command": cmdline, "machine": mach}, indent=1))
    print()
    for t, m, v in targets(res):
        print(f"[{ {True: 'MET', False: 'NOT MET', None: '—'}[v] }] {t}\n        {m}")
    print()
    print("\n".join(markdown(res)))
    print(f"raw results in {dest}")
