#!/usr/bin/env bash
# Obtains the jobwait binary for the composite action and sets the step output `path`:
#   1. the `binary` input, when given;
#   2. the release asset for this runner's OS/arch, when `version` is given, verified by SHA-256;
#   3. otherwise `cargo install --locked` from the action's own source.
# Inputs arrive as environment variables (JOBWAIT_ACTION_*), never interpolated into code.
set -euo pipefail

out() { echo "path=$1" >>"${GITHUB_OUTPUT:?GITHUB_OUTPUT is not set}"; echo "jobwait: using $1" >&2; }

if [[ -n "${JOBWAIT_ACTION_BINARY:-}" ]]; then
  [[ -x "$JOBWAIT_ACTION_BINARY" ]] || { echo "::error::binary input: $JOBWAIT_ACTION_BINARY is not an executable file"; exit 2; }
  out "$JOBWAIT_ACTION_BINARY"
  exit 0
fi

root="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/jobwait-action"
mkdir -p "$root"

if [[ -n "${JOBWAIT_ACTION_VERSION:-}" ]]; then
  version="${JOBWAIT_ACTION_VERSION#v}"
  [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$ ]] || { echo "::error::version input: '$version' is not a release version like 0.1.0"; exit 2; }
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) target=x86_64-unknown-linux-musl ;;
    Linux-aarch64) target=aarch64-unknown-linux-musl ;;
    Darwin-x86_64) target=x86_64-apple-darwin ;;
    Darwin-arm64) target=aarch64-apple-darwin ;;
    *) echo "::error::no jobwait release for $(uname -s)-$(uname -m); leave version empty to build from source"; exit 2 ;;
  esac
  asset="jobwait-$version-$target.tar.gz"
  base="https://github.com/${JOBWAIT_ACTION_REPOSITORY:?}/releases/download/v$version"
  curl -fsSL --retry 3 -o "$root/$asset" "$base/$asset"
  curl -fsSL --retry 3 -o "$root/$asset.sha256" "$base/$asset.sha256"
  expected="$(cut -d' ' -f1 <"$root/$asset.sha256")"
  actual="$(sha256sum "$root/$asset" 2>/dev/null | cut -d' ' -f1 || shasum -a 256 "$root/$asset" | cut -d' ' -f1)"
  [[ "$expected" == "$actual" ]] || { echo "::error::$asset: SHA-256 mismatch (expected $expected, got $actual)"; exit 1; }
  tar -xzf "$root/$asset" -C "$root"
  out "$root/jobwait"
  exit 0
fi

cargo install --locked --quiet --path "${JOBWAIT_ACTION_PATH:?}" --root "$root"
out "$root/bin/jobwait"
