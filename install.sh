#!/bin/sh
# Installs a jobwait release for people: downloads the archive for this OS/arch, checks it
# against its .sha256, and puts the binary in ~/.local/bin (or --to DIR).
#
#   curl -fsSL https://raw.githubusercontent.com/example/jobwait/main/install.sh | sh
#   curl -fsSL …/install.sh | sh -s -- --version 0.1.0 --to /usr/local/bin
#
# Options: --version X.Y.Z (default: the latest release), --to DIR (default: ~/.local/bin),
# --release-url URL (default: https://github.com/example/jobwait/releases/download; archives are
# at <URL>/v<version>/<archive>). POSIX sh; needs curl, tar, and sha256sum or shasum.
set -eu

repo="example/jobwait"
release_url="https://github.com/$repo/releases/download"
version=""
to="${HOME:?HOME is not set}/.local/bin"

die() { echo "jobwait install: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --version) [ $# -ge 2 ] || die "--version needs a value"; version="$2"; shift 2 ;;
    --to) [ $# -ge 2 ] || die "--to needs a value"; to="$2"; shift 2 ;;
    --release-url) [ $# -ge 2 ] || die "--release-url needs a value"; release_url="${2%/}"; shift 2 ;;
    -h | --help) sed -n '2,10p' "$0" 2>/dev/null || true; exit 0 ;;
    *) die "unknown option $1 (--version, --to, --release-url)" ;;
  esac
done

command -v curl >/dev/null || die "curl is needed"
command -v tar >/dev/null || die "tar is needed"

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) platform=x86_64-linux ;;
  Linux-aarch64 | Linux-arm64) platform=aarch64-linux ;;
  Darwin-x86_64) platform=x86_64-apple-darwin ;;
  Darwin-arm64) platform=aarch64-apple-darwin ;;
  *) die "no release for $(uname -s)-$(uname -m): build it with \`cargo install jobwait\`" ;;
esac

if [ -z "$version" ]; then
  # GitHub answers /releases/latest with a redirect to /releases/tag/v<version>.
  latest="$(curl -fsSLI -o /dev/null -w '%{url_effective}' "https://github.com/$repo/releases/latest")" \
    || die "cannot find the latest release (give --version)"
  version="${latest##*/}"
fi
version="${version#v}"
case "$version" in
  *[!0-9A-Za-z.+-]* | "") die "'$version' is not a release version like 0.1.0" ;;
esac

name="jobwait-$version-$platform"
archive="$name.tar.gz"
base="$release_url/v$version"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT INT TERM

echo "jobwait install: downloading $base/$archive" >&2
curl -fsSL --proto '=https,http' --max-filesize 67108864 -o "$work/$archive" "$base/$archive" \
  || die "cannot download $base/$archive"
curl -fsSL --proto '=https,http' --max-filesize 4096 -o "$work/$archive.sha256" "$base/$archive.sha256" \
  || die "cannot download $base/$archive.sha256"

expected="$(cut -c1-64 <"$work/$archive.sha256" | head -n 1)"
if command -v sha256sum >/dev/null; then
  actual="$(sha256sum "$work/$archive" | cut -d' ' -f1)"
elif command -v shasum >/dev/null; then
  actual="$(shasum -a 256 "$work/$archive" | cut -d' ' -f1)"
else
  die "sha256sum or shasum is needed to check the download"
fi
[ "$expected" = "$actual" ] || die "$archive: SHA-256 mismatch, the download is not the release (expected $expected, got $actual); nothing installed"

tar -xzf "$work/$archive" -C "$work" "$name/jobwait" || die "$archive does not hold $name/jobwait"
mkdir -p "$to"
# Replace atomically: a running jobwait keeps its old file.
cp "$work/$name/jobwait" "$to/.jobwait.new"
chmod 0755 "$to/.jobwait.new"
mv -f "$to/.jobwait.new" "$to/jobwait"
echo "jobwait install: $("$to/jobwait" --version) installed to $to/jobwait" >&2
case ":${PATH:-}:" in
  *":$to:"*) ;;
  *) echo "jobwait install: $to is not on PATH; add it, e.g. export PATH=\"$to:\$PATH\"" >&2 ;;
esac
