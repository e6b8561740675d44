"""The results as text: the console tables, the targets and their verdicts, and BENCHMARKS.md
(hand-written notes below the marker line survive a rerun)."""
from .config import NOTES_MARKER
from .measure import dur, fmt
from . import spec_scale


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
        ("requests × lag p99 (request·s)", jw["req_lag_p99"], peer["req_lag_p99"], 0),
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
    out.append(("CPU per poll ≥ 40× lower than the peer's "
                f"({args.jobs}-job run, AK/SK signing included)",
                f"jobwait {fmt(jw['cpu_us_per_request'])} µs/request, peer "
                f"{fmt(peer['cpu_us_per_request'])} µs/request: {fmt(cpu_ratio, 2)}× lower"
                + (f" (median of {len(res['repeats'])} repetitions: "
                   + ", ".join(f"{r['cpu_ratio']:.2f}×" for r in res["repeats"]) + ")"
                   if len(res["repeats"]) > 1 else ""),
                cpu_ratio is not None and cpu_ratio >= 40))
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
    rl = [(r["jobwait_requests"] * r["jobwait_p99"], r["peer_requests"] * r["peer_p99"])
          for r in res["repeats"] if r["jobwait_p99"] is not None and r["peer_p99"] is not None]
    out.append((f"requests × lag p99 no larger than the peer's ({args.jobs:,}-job run)",
                f"jobwait {fmt(jw['req_lag_p99'], 0)} vs peer {fmt(peer['req_lag_p99'], 0)} request·s "
                f"({ratio(jw['req_lag_p99'], peer['req_lag_p99'])} the peer's)"
                + (" ; every repetition: " + ", ".join(f"{a / b:.3f}×" for a, b in rl)
                   if len(rl) > 1 else ""),
                bool(rl) and all(a <= b for a, b in rl)))
    if "mixed" in res:
        out.extend(mixed_targets(res["mixed"]))
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
    # The same comparison as requests × lag: a schedule that polls more where jobs end buys
    # lag with requests; the product says whether the trade was good.
    rl = lambda m: (m["requests"] * m["lag"]["p50_ms"] / 1000  # noqa: E731
                    if m["lag"]["p50_ms"] is not None else None)
    out.append(("adaptive schedule: requests × lag p50 below the plain back-off's (same run)",
                f"adaptive {fmt(rl(sa), 0)} vs backoff {fmt(rl(sb), 0)} request·s "
                f"({ratio(rl(sa), rl(sb))}); lag p50 adaptive {fmt(sa['lag']['p50_ms'])} ms, "
                f"backoff {fmt(sb['lag']['p50_ms'])} ms",
                None not in (rl(sa), rl(sb)) and rl(sa) < rl(sb)))
    if res.get("spec_scale"):
        out += spec_scale.targets(res["spec_scale"])
    return out


def mixed_targets(mx):
    """The mixed scenario's three targets, judged on the cold run (an empty duration cache: the
    first run on a machine); the warm run is shown next to it."""
    st, cold, warm, peer = mx["settings"], mx["cold"], mx["warm"], mx["peer"]
    fewer = (1 - cold["requests"] / peer["requests"]) * 100 if peer["requests"] else None
    fewer_warm = (1 - warm["requests"] / peer["requests"]) * 100 if peer["requests"] else None
    p50 = lambda m: m["lag"]["p50_ms"]  # noqa: E731
    p99 = lambda m: m["lag"]["p99_ms"]  # noqa: E731
    bound = st["max_interval"] * 1000 + 100
    ok = cold["correct"]["ok"] and peer["correct"]["ok"] and cold["lag"]["undetected"] == 0
    name = (f"mixed scenario ({st['jobs']} jobs: volumes 3–6 s, servers 15–30 s, images 40–80 s; "
            f"jobwait interval {st['interval']:g} s, max_interval {st['max_interval']:g} s, default "
            f"schedule; peer every {st['peer_interval']:g} s)")
    return [
        (f"{name}: ≥ 30 % fewer requests than the peer",
         f"jobwait {cold['requests']:,} (empty cache) vs peer {peer['requests']:,}: {fmt(fewer)} % "
         f"fewer; with the cache of that run: {warm['requests']:,}, {fmt(fewer_warm)} % fewer",
         fewer is not None and fewer >= 30 and ok),
        ("… lag p50 ≤ 1.5× the peer's",
         f"jobwait p50 {fmt(p50(cold))} ms (cache: {fmt(p50(warm))} ms) vs peer {fmt(p50(peer))} ms: "
         f"{ratio(p50(cold), p50(peer))} (cache: {ratio(p50(warm), p50(peer))})",
         None not in (p50(cold), p50(peer)) and p50(cold) <= 1.5 * p50(peer) and ok),
        (f"… lag p99 ≤ max_interval + 100 ms = {bound:.0f} ms",
         f"jobwait p99 {fmt(p99(cold))} ms, max {fmt(cold['lag']['max_ms'])} ms (cache: p99 "
         f"{fmt(p99(warm))}, max {fmt(warm['lag']['max_ms'])} ms); peer p99 {fmt(p99(peer))} ms",
         p99(cold) is not None and p99(cold) <= bound and ok
         and p99(warm) is not None and p99(warm) <= bound),
    ]


def mixed_rows(mx):
    """Rows of the mixed-scenario table: metric, peer, jobwait cold, jobwait warm, ratios."""
    peer, cold, warm = mx["peer"], mx["cold"], mx["warm"]

    def correct(m):
        c = m["correct"]
        if m["kind"] == "jobwait":
            return f"{c['matched']}/{c['total']} as scripted" + ("" if c["ok"] else " ✗")
        return "= scripted" if c["ok"] else "✗ (scripted differs)"
    rows = [
        ("requests (server-counted)", "requests", 0),
        ("requests per job", "requests_per_job", 2),
        ("detection lag p50 (ms)", ("lag", "p50_ms"), 1),
        ("detection lag p99 (ms)", ("lag", "p99_ms"), 1),
        ("detection lag max (ms)", ("lag", "max_ms"), 1),
        ("requests × lag p99 (request·s)", "req_lag_p99", 0),
        ("user+sys CPU (s)", "cpu_s", 3),
        ("wall time (s)", "wall_s", 2),
    ]

    def get(m, k):
        return m[k[0]][k[1]] if isinstance(k, tuple) else m[k]
    out = []
    for label, k, d in rows:
        p, c, w = get(peer, k), get(cold, k), get(warm, k)
        out.append((label, fmt(p, d), fmt(c, d), fmt(w, d), ratio(c, p), ratio(w, p)))
    out.append(("jobs never seen terminal", peer["lag"]["undetected"], cold["lag"]["undetected"],
                warm["lag"]["undetected"], "", ""))
    out.append(("correctness", correct(peer), correct(cold), correct(warm), "", ""))
    out.append(("other processes' CPU meanwhile (s)", fmt(peer["other_cpu_s"], 2),
                fmt(cold["other_cpu_s"], 2), fmt(warm["other_cpu_s"], 2), "", ""))
    return out


def mixed_summary(mx):
    st, peer, cold, warm = mx["settings"], mx["peer"], mx["cold"], mx["warm"]
    return (f"mixed scenario ({st['jobs']} jobs): peer {peer['requests']:,} requests, lag p50/p99 "
            f"{fmt(peer['lag']['p50_ms'])}/{fmt(peer['lag']['p99_ms'])} ms; jobwait empty cache "
            f"{cold['requests']:,} ({ratio(cold['requests'], peer['requests'])}), "
            f"{fmt(cold['lag']['p50_ms'])}/{fmt(cold['lag']['p99_ms'])} ms; with cache "
            f"{warm['requests']:,} ({ratio(warm['requests'], peer['requests'])}), "
            f"{fmt(warm['lag']['p50_ms'])}/{fmt(warm['lag']['p99_ms'])} ms")


def scale_rows(points):
    """One row per size: jobs, peak RSS, RSS per job above the smallest run, CPU per request,
    requests per job, wall time, outcomes."""
    sizes = sorted(points)
    base = points[sizes[0]]
    out = []
    for n in sizes:
        m = points[n]
        rss = m["maxrss_kib"] / 1024
        per_job = ((m["maxrss_kib"] - base["maxrss_kib"]) / (n - sizes[0])
                   if n != sizes[0] else None)
        out.append((f"wait, {n:,} jobs", fmt(rss, 1),
                    "–" if per_job is None else f"{per_job * 1024:,.0f} B",
                    fmt(m["cpu_us_per_request"], 1), fmt(m["requests_per_job"], 2),
                    fmt(m["wall_s"], 1), f"{m['correct']['matched']:,}/{m['correct']['total']:,}"
                    + ("" if m["correct"]["ok"] else " ✗")))
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
        "Generated by `bench/run.py` (bench/README.md describes every measurement). "
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
        *spec_scale.markdown(res.get("spec_scale")),
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
        *mixed_markdown(res),
        *scale_markdown(res),
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
        + ("" if not res["incidents"] else " Incidents: " + "; ".join(res["incidents"]) + "."),
        "",
        "Detection lag = `first_terminal_response_ms - terminal_at_ms` per job from `/_sim/stats`, "
        "percentiles by nearest rank. CPU is the client process's own rusage (`os.wait4`, µs "
        "resolution); peak RSS is GNU time's `%M` for it (a child forked from the Python harness "
        "would carry the harness's RSS as its high-water mark). CPU per request divides the whole "
        "process's CPU (start-up and report included) by the server-counted requests.",
        "",
    ]
    return "\n".join(parts)


def mixed_markdown(res):
    if "mixed" not in res:
        return []
    mx = res["mixed"]
    st = mx["settings"]
    return [
        "## Mixed job types: jobwait's default schedule vs the peer",
        "",
        f"Scenario: {st['jobs']} jobs started together, a third each `createVolume` (3–6 s), "
        f"`createServer` (15–30 s) and `createImage` (40–80 s), durations uniform, no progress "
        f"and no sub-jobs (only `job_type`, `begin_time`, `end_time`), {st['failing']} scripted to "
        f"fail, AK/SK auth. jobwait: `--poll-interval {dur(st['interval'])} --poll-max-interval "
        f"{dur(st['max_interval'])} --rate-limit {st['rate']:g}`, default (adaptive) schedule, run "
        "twice: with an empty duration cache (`XDG_CACHE_HOME` a fresh directory: it learns the "
        "types during the run) and again with the cache that run wrote. Peer: `--interval "
        f"{st['peer_interval']:g} --threads {st['jobs']}`. A fresh simulator each. Ratio = jobwait / peer.",
        "",
        md_table(["metric", "peer (SDK)", "jobwait, empty cache", "jobwait, cache",
                  "empty cache / peer", "cache / peer"], mixed_rows(mx)),
        "",
    ]


def scale_markdown(res):
    if "scale" not in res:
        return []
    sc = res["scale"]
    s = res["settings"]
    return [
        "## Scale curve (jobwait only)",
        "",
        f"The wait at several sizes, same settings as the many-jobs run (durations "
        f"{s['many_dmin']:g}–{s['many_dmax']:g} s, `--poll-interval {dur(s['many_interval'])} "
        f"--poll-max-interval {dur(s['many_max_interval'])} --rate-limit {s['many_rate']:g}`, ids "
        "as arguments), one scenario per size. RSS per job is the peak's growth per job above the "
        "smallest run (the process's own base cancels out). `validate` rows at 100k and 1M jobs "
        "come from the spec-file bench (issue 16, target 1) and are added there.",
        "",
        md_table(["run", "peak RSS (MiB)", "RSS per job", "CPU per request (µs)",
                  "requests per job", "wall (s)", "as scripted"], scale_rows(sc)),
        "",
    ]


def write_benchmarks(path, text):
    notes = ""
    if path.exists():
        old = path.read_text()
        if NOTES_MARKER in old:
            notes = old[old.index(NOTES_MARKER):]
    if not notes:
        notes = NOTES_MARKER + "\n\n## Notes\n\n(hand-written notes below this line survive reruns)\n"
    path.write_text(text + "\n" + notes)
