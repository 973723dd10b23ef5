#!/bin/sh
# build_llamacpp.sh: OPTIONAL.  Builds llama.cpp's llama-bench (CPU only) from the llama.cpp source vendored in
# the PyPI sdist of llama-cpp-python (pinned version and SHA-256 below), into $SPARSWEEP_CACHE/llamacpp
# (default ./cache/llamacpp), for `sparsweep bench model` to run side by side with sparsweep.  Not run by
# setup.sh or CI (a full build takes minutes).  The download is the only network step: cmake runs with
# curl and every fetch disabled.  Idempotent: does nothing when cache/llamacpp/bin/llama-bench exists.
#   scripts/build_llamacpp.sh [SDIST.tar.gz]   (a local copy of the sdist skips the download)
set -eu
VERSION=0.3.36
SHA256=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${SPARSWEEP_CACHE:-$ROOT/cache}
OUT=$CACHE/llamacpp
JOBS=${JOBS:-2}

if [ -x "$OUT/bin/llama-bench" ]; then
  echo "llama-bench already built: $OUT/bin/llama-bench"
  exit 0
fi
# The work directory persists until the build succeeds, so an interrupted build (minutes under load) resumes.
WORK=$CACHE/llamacpp-work
mkdir -p "$WORK"
if [ $# -ge 1 ]; then
  SDIST=$1
elif [ -f "$WORK/llama_cpp_python-$VERSION.tar.gz" ]; then
  SDIST=$WORK/llama_cpp_python-$VERSION.tar.gz
else
  # --no-binary: the sdist, not a wheel; pip prepares its metadata in an isolated environment (network).
  python3 -m pip download --quiet --no-deps --no-binary llama-cpp-python "llama-cpp-python==$VERSION" -d "$WORK"
  SDIST=$WORK/llama_cpp_python-$VERSION.tar.gz
fi
echo "$SHA256  $SDIST" | sha256sum -c - >/dev/null || {
  echo "build_llamacpp.sh: SHA-256 of $SDIST does not match the pinned llama-cpp-python $VERSION" >&2
  exit 1
}
SRC=$WORK/llama_cpp_python-$VERSION/vendor/llama.cpp
[ -f "$SRC/CMakeLists.txt" ] || tar -xzf "$SDIST" -C "$WORK" "llama_cpp_python-$VERSION/vendor/llama.cpp"
# CPU backend only, no curl / server / examples / tests; GGML_NATIVE picks this machine's ISA (as a user would).
cmake -S "$SRC" -B "$WORK/build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF \
  -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_TOOLS=ON -DGGML_NATIVE=ON -DGGML_OPENMP=ON \
  -DBUILD_SHARED_LIBS=OFF -DFETCHCONTENT_FULLY_DISCONNECTED=ON >"$WORK/cmake.log" 2>&1 || {
  tail -20 "$WORK/cmake.log" >&2
  exit 1
}
cmake --build "$WORK/build" --target llama-bench -j "$JOBS" >"$WORK/build.log" 2>&1 || {
  tail -20 "$WORK/build.log" >&2
  exit 1
}
mkdir -p "$OUT/bin"
cp "$WORK/build/bin/llama-bench" "$OUT/bin/llama-bench.tmp"
mv "$OUT/bin/llama-bench.tmp" "$OUT/bin/llama-bench"
rm -rf "$WORK"
echo "llama-cpp-python $VERSION (vendored llama.cpp) llama-bench built: $OUT/bin/llama-bench"
