#!/usr/bin/env bash
# Build llama.cpp's own `llama-server` (continuous batching, --parallel N) once, and cache it by version.
#
#   scripts/build_llama_server.sh [VERSION]     # VERSION: llama-cpp-python's, default: the pin in requirements.txt
#
# Source: the llama.cpp that llama-cpp-python VERSION's sdist vendors (vendor/llama.cpp), fetched with pip from
# the configured index, so the server runs the same llama.cpp as the in-process backend. Only the
# `llama-server` target is built, with at most LLAMA_SERVER_JOBS (2) compile jobs, no tests, examples, web UI
# (which would be downloaded), curl or OpenSSL; statically linked, so the result is one file. Portable x86-64
# like the Makefile's llama-cpp-python wheel: GGML_NATIVE=OFF and AMX off (native AMX kernels crash with
# SIGSEGV where the OS does not grant AMX state).
#
# The binary lands in $LLAMA_SERVER_DIR/llama-server-VERSION (default: the user cache,
# ${XDG_CACHE_HOME:-~/.cache}/prompt-workbench/bin, where workbench.engine looks for it). A binary that is there
# and answers --version is reused: only the first install pays. Exit status 0 when the binary is ready.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VERSION="${1:-$(sed -n 's/^llama-cpp-python\(\[[a-z,]*\]\)\{0,1\}==//p' "$ROOT/requirements.txt")}"
if [ -z "$VERSION" ]; then
  echo "build_llama_server: no llama-cpp-python pin in requirements.txt; give the version as an argument" >&2
  exit 2
fi
DEST_DIR="${LLAMA_SERVER_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/prompt-workbench/bin}"
DEST="$DEST_DIR/llama-server-$VERSION"
JOBS="${LLAMA_SERVER_JOBS:-2}"
PIP="${PIP:-$ROOT/.venv/bin/pip}"
[ -x "$PIP" ] || PIP="python3 -m pip"

if [ -x "$DEST" ] && "$DEST" --version >/dev/null 2>&1; then
  echo "llama-server $VERSION: reusing $DEST"
  exit 0
fi
for tool in cmake c++ cc; do
  command -v "$tool" >/dev/null 2>&1 || { echo "build_llama_server: $tool is not installed" >&2; exit 1; }
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/llama-server-build.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
START=$(date +%s)
echo "llama-server $VERSION: building into $DEST ($JOBS compile jobs; the first time only)"
$PIP download --quiet --no-binary :all: --no-deps --dest "$WORK" "llama-cpp-python==$VERSION"
tar -xzf "$WORK/llama_cpp_python-$VERSION.tar.gz" -C "$WORK" "llama_cpp_python-$VERSION/vendor/llama.cpp"
SRC="$WORK/llama_cpp_python-$VERSION/vendor/llama.cpp"

cmake -S "$SRC" -B "$WORK/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
  -DGGML_NATIVE=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DGGML_CCACHE=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON \
  -DLLAMA_BUILD_APP=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF \
  -DLLAMA_BUILD_NUMBER=0 >"$WORK/configure.log" 2>&1 || { tail -30 "$WORK/configure.log" >&2; exit 1; }
cmake --build "$WORK/build" --target llama-server -j "$JOBS" >"$WORK/build.log" 2>&1 \
  || { tail -30 "$WORK/build.log" >&2; exit 1; }

BUILT="$WORK/build/bin/llama-server"
"$BUILT" --version >/dev/null 2>&1 || { echo "build_llama_server: the built binary does not run" >&2; exit 1; }
mkdir -p "$DEST_DIR"
cp "$BUILT" "$DEST.tmp.$$"
mv -f "$DEST.tmp.$$" "$DEST"  # atomic: a half-copied binary is never found
echo "llama-server $VERSION: built in $(( $(date +%s) - START )) s -> $DEST"
