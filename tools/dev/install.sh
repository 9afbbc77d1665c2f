#!/usr/bin/env bash
# install.sh -- `./dev install [--build-dir=DIR] [--build-type=TYPE] [PREFIX]`:
# build the libraries and the gentrace tool with CMake (CMakeLists.txt) and
# install them under PREFIX (default /usr/local): headers in
# PREFIX/include/gentrace, static and shared libraries, bin/gentrace,
# lib/pkgconfig/gentrace.pc and lib/cmake/gentrace (find_package).
#   --build-dir  where CMake builds (default: out/cmake-build in the repository;
#                kept, so a second install rebuilds only what changed)
#   --build-type CMAKE_BUILD_TYPE (default RelWithDebInfo: -O2 -g, as Bazel)
# Installing into a directory we cannot write (the default /usr/local, as a
# user) runs only the install step through sudo.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

build_dir="$ROOT/out/cmake-build"
build_type=RelWithDebInfo
prefix=/usr/local
for arg in "$@"; do
  case $arg in
    --build-dir=*) build_dir=${arg#--build-dir=} ;;
    --build-type=*) build_type=${arg#--build-type=} ;;
    -h | --help)
      sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    --*) die "install: unknown option $arg" ;;
    *) prefix=$arg ;;
  esac
done
command -v cmake >/dev/null || die "cmake missing: ./dev deps"
[[ $prefix == /* ]] || prefix="$PWD/$prefix"

mkdir -p "$build_dir"
say "configuring ($build_type) in $build_dir for $prefix"
cmake -S "$ROOT" -B "$build_dir" -DCMAKE_BUILD_TYPE="$build_type" \
  -DCMAKE_INSTALL_PREFIX="$prefix" >"$build_dir/configure.log" 2>&1 ||
  { cat "$build_dir/configure.log" >&2; die "cmake configure failed"; }
say "building (cmake --build -j2)"
cmake --build "$build_dir" -j2
mkdir -p "$prefix" 2>/dev/null || true
if [[ -w $prefix ]]; then
  cmake --install "$build_dir"
else
  say "installing into $prefix as root"
  as_root cmake --install "$build_dir"
fi
say "installed gentrace into $prefix"
