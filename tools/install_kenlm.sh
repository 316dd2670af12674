#!/usr/bin/env bash
# Build KenLM's lmplz and build_binary into tools/kenlm/bin from the kenlm
# source package pinned in tools/requirements.txt (Debian has no kenlm
# package).  Idempotent: skipped when both programs exist and run.
set -euo pipefail
tools=$(cd "$(dirname "$0")" && pwd)
dest=$tools/kenlm
if [ -x "$dest/bin/lmplz" ] && [ -x "$dest/bin/build_binary" ] && "$dest/bin/lmplz" --help >/dev/null 2>&1; then
  echo "install_kenlm: lmplz and build_binary present in tools/kenlm/bin"
  exit 0
fi
version=$(sed -n 's/^kenlm==//p' "$tools/requirements.txt")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m pip download --quiet --no-deps --no-binary :all: -d "$work" "kenlm==$version"
tar -xzf "$work"/kenlm-*.tar.gz -C "$work"
src=$(find "$work" -maxdepth 1 -type d -name 'kenlm-*' | head -1)
cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release >"$work/cmake.log" 2>&1 || { cat "$work/cmake.log"; exit 1; }
cmake --build "$work/build" -j "$(nproc)" --target lmplz build_binary >"$work/build.log" 2>&1 || { tail -50 "$work/build.log"; exit 1; }
mkdir -p "$dest/bin"
cp "$work/build/bin/lmplz" "$work/build/bin/build_binary" "$dest/bin/"
echo "install_kenlm: built lmplz and build_binary (kenlm $version) into tools/kenlm/bin"
