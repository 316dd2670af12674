#!/usr/bin/env bash
# Build KenLM's lmplz and build_binary into tools/kenlm/bin from the kenlm
# source package pinned in tools/requirements.txt (Debian has no kenlm
# package).  Idempotent: skipped when both programs of the pinned version exist
# (tools/kenlm/VERSION records what was built).
set -euo pipefail
tools=$(cd "$(dirname "$0")" && pwd)
dest=$tools/kenlm
version=$(sed -n 's/^kenlm==//p' "$tools/requirements.txt")
if [ -x "$dest/bin/lmplz" ] && [ -x "$dest/bin/build_binary" ] && [ "$(cat "$dest/VERSION" 2>/dev/null)" = "$version" ]; then
  echo "install_kenlm: lmplz and build_binary (kenlm $version) present in tools/kenlm/bin"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Fetch the sdist straight from the package index (pip download would build
# the package's build dependencies, cmake included, from source).
python3 - "$version" "$work" <<'PY'
import hashlib, re, sys, urllib.request
version, work = sys.argv[1], sys.argv[2]
index = "https://pypi.org/simple/kenlm/"
page = urllib.request.urlopen(index, timeout=60).read().decode()
m = re.search(r'href="([^"#]*/kenlm-%s\.tar\.gz)#sha256=([0-9a-f]+)"' % re.escape(version), page)
if not m:
    sys.exit(f"install_kenlm: kenlm-{version}.tar.gz not listed at {index}")
data = urllib.request.urlopen(m.group(1), timeout=300).read()
if hashlib.sha256(data).hexdigest() != m.group(2):
    sys.exit("install_kenlm: sha256 mismatch for the kenlm source package")
open(f"{work}/kenlm-{version}.tar.gz", "wb").write(data)
PY
tar -xzf "$work"/kenlm-*.tar.gz -C "$work"
src=$(find "$work" -maxdepth 1 -type d -name 'kenlm-*' | head -1)
cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release >"$work/cmake.log" 2>&1 || { cat "$work/cmake.log"; exit 1; }
cmake --build "$work/build" -j "$(nproc)" --target lmplz build_binary >"$work/build.log" 2>&1 || { tail -50 "$work/build.log"; exit 1; }
mkdir -p "$dest/bin"
cp "$work/build/bin/lmplz" "$work/build/bin/build_binary" "$dest/bin/"
echo "$version" > "$dest/VERSION"
echo "install_kenlm: built lmplz and build_binary (kenlm $version) into tools/kenlm/bin"
