#!/usr/bin/env bash
# Install the Debian packages speechssl needs (root, apt-get).  Idempotent:
# packages already installed are not touched and apt-get is not run at all
# when nothing is missing.
set -euo pipefail
packages=(
  # audio and synthesis of the stand-in corpora
  espeak-ng sox libsox-fmt-all flac
  # text sources of the stand-in corpora (sentences for speech and unpaired text)
  wordnet-base fortunes wamerican
  fortunes-es fortunes-de fortunes-it fortunes-br   # FLEURS stand-in text (es_419, de_de, it_it, pt_br)
  # scoring (sclite)
  sctk
  # job dispatch: a single-node Slurm for the test suite and local clusters
  slurmd slurmctld slurm-client munge
  # KenLM's lmplz/build_binary are built from source (tools/install_kenlm.sh)
  build-essential cmake libboost-program-options-dev libboost-system-dev
  libboost-thread-dev libboost-test-dev libeigen3-dev zlib1g-dev libbz2-dev liblzma-dev
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install_system: all ${#packages[@]} Debian packages present"
  exit 0
fi
echo "install_system: installing ${missing[*]}"
sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
