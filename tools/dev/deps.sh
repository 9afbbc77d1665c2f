#!/usr/bin/env bash
# deps.sh -- install what building and testing gentrace needs on Debian 12
# (`./dev deps`). Safe to run again: silent apart from the Go version line
# when everything is present, and apt-get runs only for what is missing.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

debs=(
  bazel-bootstrap   # Bazel 4.2.3, runs offline (docs/BUILDING.md)
  g++               # the default toolchain
  clang             # clang 14: libFuzzer targets (./dev fuzz)
  libclang-rt-14-dev
  clang-format      # ./dev format
  pkg-config
  cmake             # ./dev install (the CMake build, docs/BUILDING.md)
  make              # examples/pkgconfig's Makefile
  libabsl-dev
  libzstd-dev
  zlib1g-dev        # gentrace pprof's gzip
  libpfm4-dev       # perf event names as `perf list` spells them (cpusample)
  zstd
  protobuf-compiler # protoc: the gentrace perfetto tests decode with it
  chromium          # headless: the gentrace report test draws the page
  libgtest-dev
  libgmock-dev
  libbenchmark-dev
  libunwind-dev
  libdw-dev         # stack symbolization (function, file, line)
  libelf-dev
  git
)

mapfile -t missing < <(missing_debs "${debs[@]}")
if ((${#missing[@]} > 0)); then
  say "installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
fi

"$ROOT/tools/dev/install_go.sh"
