"""Setting up the machine for a run (the release build, the peer's virtualenv, GNU time and
hyperfine) and describing it for the report."""
import datetime
import hashlib
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

from . import measure
from .config import BIN, ROOT, VENV, VENV_PY


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
    for tool, package in (("time", "time"), ("hyperfine", "hyperfine")):
        if shutil.which(tool, path="/usr/bin:/bin"):
            continue
        print(f"== apt-get install -y {package}", flush=True)
        try:
            subprocess.run(["apt-get", "install", "-y", package], timeout=300,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired):
            pass
    measure.TIME = shutil.which("time", path="/usr/bin:/bin")
    if not measure.TIME:
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
