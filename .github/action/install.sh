#!/usr/bin/env bash
# Obtains the jobwait binary for the composite action and sets the step output `path`:
#   1. the `binary` input, when given;
#   2. the release archive of `version` (default: the version in the action's own Cargo.toml, so
#      a tag, a SHA pin and `uses: ./` all run the release matching their source) for this
#      runner's OS/arch, from `<release_url>/v<version>/`: verified against its .sha256 (and its
#      build provenance attestation when `gh` is there and the release is on GitHub), cached in
#      the runner's tool cache;
#   3. `cargo install --locked` from the action's own source — with a warning, as it takes
#      minutes — on a platform without a release, when the default version is not released
#      (HTTP 404; a `version` given must exist), or when `version` is `source`.
# Inputs arrive as environment variables (ACTION_*), never interpolated into code; none is named
# JOBWAIT_*, the spec's namespace.
set -euo pipefail

out() { echo "path=$1" >>"${GITHUB_OUTPUT:?GITHUB_OUTPUT is not set}"; echo "jobwait: using $1" >&2; }
fail() { echo "::error title=jobwait action::$*"; exit 1; }

action_path="${ACTION_PATH:?ACTION_PATH is not set}"
# The token is for `gh attestation verify` alone: not for a source build's build scripts.
gh_token="${GH_TOKEN:-}"
unset GH_TOKEN

if [[ -n "${ACTION_BINARY:-}" ]]; then
  [[ -f "$ACTION_BINARY" && -x "$ACTION_BINARY" ]] || { echo "::error title=jobwait action::binary input: $ACTION_BINARY is not an executable file"; exit 2; }
  out "$ACTION_BINARY"
  exit 0
fi

build_from_source() {
  echo "::warning title=jobwait action::$1: building jobwait from source with cargo, which takes minutes"
  command -v cargo >/dev/null || fail "$1, and cargo is not installed to build jobwait from source"
  local root="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/jobwait-action"
  mkdir -p "$root"
  cargo install --locked --quiet --path "$action_path" --root "$root"
  out "$root/bin/jobwait"
  exit 0
}

version="${ACTION_VERSION:-}"
explicit="$version"
if [[ -z "$version" ]]; then
  # The first `version =` of the [package] table of the action's own Cargo.toml.
  version="$(awk '/^\[/{p=($0=="[package]")} p&&/^version *=/{gsub(/[" ]/,"");sub(/^version=/,"");print;exit}' "$action_path/Cargo.toml" 2>/dev/null || true)"
  [[ -n "$version" ]] || fail "no version input and no version in $action_path/Cargo.toml"
fi
[[ "$version" == source ]] && build_from_source "version: source"
version="${version#v}"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] || { echo "::error title=jobwait action::version input: '$(printf '%.64s' "${version//[^0-9A-Za-z.+-]/?}")' is not a release version like 0.1.0 (or 'source')"; exit 2; }

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) platform=x86_64-linux ;;
  Linux-aarch64 | Linux-arm64) platform=aarch64-linux ;;
  Darwin-x86_64) platform=x86_64-apple-darwin ;;
  Darwin-arm64) platform=aarch64-apple-darwin ;;
  *) build_from_source "no jobwait release for $(uname -s)-$(uname -m)" ;;
esac
name="jobwait-$version-$platform"
archive="$name.tar.gz"

# The tool cache's layout (<tool>/<version>/<arch>, then <arch>.complete): a self-hosted runner
# downloads a release once. The marker holds the archive's SHA-256 the binary came from.
cache="${RUNNER_TOOL_CACHE:-${RUNNER_TEMP:-${TMPDIR:-/tmp}}}/jobwait/$version"
if [[ -f "$cache/$platform.complete" && -x "$cache/$platform/jobwait" ]]; then
  echo "jobwait: $archive from the tool cache (SHA-256 $(head -c 64 "$cache/$platform.complete"))" >&2
  out "$cache/$platform/jobwait"
  exit 0
fi

release_url="${ACTION_RELEASE_URL:-}"
if [[ -z "$release_url" ]]; then
  # `uses: ./` has no action repository: the action is the workflow's own repository then.
  repository="${ACTION_REPOSITORY:-${GITHUB_REPOSITORY:-}}"
  [[ -n "$repository" ]] || fail "no release_url input and no repository to download the release from"
  release_url="${GITHUB_SERVER_URL:-https://github.com}/$repository/releases/download"
fi
[[ "$release_url" =~ ^https?://[^[:space:]]+$ ]] || { echo "::error title=jobwait action::release_url input: not an http(s) URL"; exit 2; }
base="${release_url%/}/v$version"

work="$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/jobwait-download.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# Fetches $1 into $2 (bounded: 64 MiB) and sets `status` to the HTTP status; curl's own failure
# (no connection, too large) fails the step.
fetch() {
  status="$(curl -sSL --proto '=https,http' --retry 3 --max-filesize 67108864 --max-time 300 -o "$2" -w '%{http_code}' "$1")" \
    || fail "cannot download $1"
}
fetch "$base/$archive" "$work/$archive"
if [[ "$status" == 404 ]]; then
  # A version asked for must be that version; the default (the source's own) may be unreleased.
  [[ -z "$explicit" ]] || fail "no release v$version at $base (HTTP 404 for $archive)"
  build_from_source "no release v$version at $base (HTTP 404 for $archive)"
fi
[[ "$status" == 200 ]] || fail "downloading $base/$archive: HTTP $status"
fetch "$base/$archive.sha256" "$work/$archive.sha256"
[[ "$status" == 200 ]] || fail "downloading $base/$archive.sha256: HTTP $status"

expected="$(head -c 64 "$work/$archive.sha256")"
[[ "$expected" =~ ^[0-9a-f]{64}$ ]] || fail "$archive.sha256 does not start with a SHA-256"
if command -v sha256sum >/dev/null; then
  actual="$(sha256sum "$work/$archive" | cut -d' ' -f1)"
else
  actual="$(shasum -a 256 "$work/$archive" | cut -d' ' -f1)"
fi
[[ "$expected" == "$actual" ]] || fail "$archive: SHA-256 mismatch, the download is not the release (expected $expected, got $actual)"
echo "jobwait: $archive SHA-256 verified ($actual)" >&2

# Build provenance: the release workflow attests every archive; gh checks it against the repository.
if [[ "$release_url" =~ ^https://github\.com/([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)/releases/download/?$ ]]; then
  repo="${BASH_REMATCH[1]}"
  if command -v gh >/dev/null; then
    GH_TOKEN="$gh_token" gh attestation verify "$work/$archive" --repo "$repo" >&2 \
      || fail "$archive: its build provenance attestation does not verify for $repo"
    echo "jobwait: $archive attestation verified for $repo" >&2
  else
    echo "::notice title=jobwait action::gh is not installed: the attestation of $archive was not checked (its SHA-256 was)"
  fi
else
  echo "::notice title=jobwait action::$archive is not from a GitHub release: its attestation was not checked (its SHA-256 was)"
fi

tar -xzf "$work/$archive" -C "$work" "$name/jobwait" || fail "$archive does not hold $name/jobwait"
rm -rf "$cache/$platform"
mkdir -p "$cache/$platform"
mv "$work/$name/jobwait" "$cache/$platform/jobwait"
echo "$actual" >"$cache/$platform.complete"
out "$cache/$platform/jobwait"
