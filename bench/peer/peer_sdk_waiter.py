#!/usr/bin/env python3
# Vendored, unchanged below this comment: the project's baseline peer, copied from the shared
# folder the benchmark used to read it from (shared/bench/peer_sdk_waiter.py, sha256
# 8d19131dd83c49bee4e371244ecb4fbae781f364bea803162058c5932c186932), so that no path of the
# benchmark leaves the repository. Update it by copying the file again, keeping this header.
"""The baseline a user would write instead of jobwait: the official Huawei Cloud Python SDK
(huaweicloudsdkcore + huaweicloudsdkecs) polling ShowJob for every job id, in a thread pool,
with a fixed interval. Benchmarks run it side by side with jobwait against the same fake API.

  python3 -m venv .venv-peer && .venv-peer/bin/pip install huaweicloudsdkcore huaweicloudsdkecs
  HUAWEICLOUD_SDK_AK=.. HUAWEICLOUD_SDK_SK=.. .venv-peer/bin/python peer_sdk_waiter.py \
      --endpoint http://127.0.0.1:PORT --project-id PID --interval 2 --timeout 120 JOB_ID ...
  (or --ids-file FILE, one id a line)

Prints one line: 'peer: N succeeded, N failed, N timed_out, N errors, R requests'.
"""
import argparse
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions import exceptions
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkecs.v2 import EcsClient, ShowJobRequest


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--project-id", required=True)
    ap.add_argument("--interval", type=float, default=5.0)
    ap.add_argument("--timeout", type=float, default=1800.0)
    ap.add_argument("--threads", type=int, default=64)
    ap.add_argument("--ids-file")
    ap.add_argument("ids", nargs="*")
    a = ap.parse_args()
    ids = list(a.ids)
    if a.ids_file:
        with open(a.ids_file) as fh:
            ids += [line.strip() for line in fh if line.strip()]
    cred = BasicCredentials(os.environ["HUAWEICLOUD_SDK_AK"], os.environ["HUAWEICLOUD_SDK_SK"], a.project_id)
    cfg = HttpConfig.get_default_config()
    cfg.retry_times = 3
    client = EcsClient.new_builder().with_credentials(cred).with_http_config(cfg).with_endpoint(a.endpoint).build()
    deadline = time.monotonic() + a.timeout
    lock = threading.Lock()
    counts = {"succeeded": 0, "failed": 0, "timed_out": 0, "errors": 0, "requests": 0}

    def wait(job_id):
        while time.monotonic() < deadline:
            with lock:
                counts["requests"] += 1
            try:
                r = client.show_job(ShowJobRequest(job_id=job_id))
            except exceptions.SdkException:
                time.sleep(a.interval)
                continue
            if r.status == "SUCCESS":
                return "succeeded"
            if r.status == "FAIL":
                return "failed"
            time.sleep(a.interval)
        return "timed_out"

    with ThreadPoolExecutor(max_workers=a.threads) as pool:
        for outcome in pool.map(wait, ids):
            counts[outcome] += 1
    print("peer: {succeeded} succeeded, {failed} failed, {timed_out} timed_out, {errors} errors, "
          "{requests} requests".format(**counts))
    return 0 if counts["failed"] == counts["timed_out"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
