"""Scenarios for the simulator (`jobwait simulate --scenario`): jobs with scripted timelines,
batch jobs with sub-jobs, IMS-like jobs reporting progress, and the outcome each must end with."""
import json
import random

from .config import AK, PROJECT_ID, SK


def job_id(tag, i):
    return f"{tag:08x}{i:024x}"


def short_job_id(tag, i):
    """16 characters: 50,000 of them fit one command line (ARG_MAX 2 MiB counts the pointers)."""
    return f"{tag & 0xFFFF:04x}{i:012x}"


def make_scenario(n, dmin, dmax, *, seed, tag, sub_share=0.3, fail_share=0.05, auth=True,
                  progress_share=0.0, ids=job_id):
    """Returns (scenario dict, {id: expected outcome}). Durations in whole milliseconds.
    A share sub_share of the jobs are batch jobs (createServer, 2-5 sub-jobs), progress_share
    are IMS-like createImage jobs with `progress: true` (the simulator reports
    entities.process_percent), the rest createVolume jobs. One draw picks the kind, so with
    progress_share=0 the scenario is the same as before that parameter existed."""
    rnd = random.Random(seed)
    jobs, expected = [], {}
    for i in range(n):
        jid = ids(tag, i)
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
                sub = {"id": ids(tag, (i + 1) << 32 | s), "job_type": "createSingleServer",
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


# The mixed scenario: three job types with their own ranges of durations (seconds).
MIXED_TYPES = (("createVolume", 3.0, 6.0, "volume_id", ("EVS.2024", "Insufficient volume quota")),
               ("createServer", 15.0, 30.0, "server_id", ("Ecs.0013", "Insufficient EIP quota")),
               ("createImage", 40.0, 80.0, "image_id", ("IMS.0002", "Image quota exceeded")))


def make_mixed_scenario(n, *, seed, tag, fail_share=0.03, auth=True):
    """Returns (scenario, {id: expected outcome}): n jobs, a third of each type of MIXED_TYPES
    (in turn), all started together, durations uniform in the type's range, no progress and no
    sub-jobs (only `job_type`, `begin_time` and `end_time` tell a schedule anything)."""
    rnd = random.Random(seed)
    jobs, expected = [], {}
    for i in range(n):
        jid = job_id(tag, i)
        kind, lo, hi, id_key, error = MIXED_TYPES[i % len(MIXED_TYPES)]
        end = int(rnd.uniform(lo, hi) * 1000)
        fail = rnd.random() < fail_share
        jobs.append(single_job(jid, kind, end, fail, id_key, rnd.getrandbits(128), error))
        expected[jid] = "failed" if fail else "succeeded"
    scenario = {"project_id": PROJECT_ID, "jobs": jobs}
    if auth:
        scenario["auth"] = {"ak": AK, "sk": SK}
    return scenario, expected
