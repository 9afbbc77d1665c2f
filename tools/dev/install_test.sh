#!/usr/bin/env bash
# install_test.sh -- the CMake build and install as a user sees them (run by
# `./dev test`; a few minutes from scratch, less with its build directory
# kept). Installs into a temporary prefix with tools/dev/install.sh, then
#  1. builds examples/pkgconfig (a plain Makefile over `pkg-config gentrace`)
#     and examples/cmake (find_package(gentrace): a program linked with the
#     shared tracer and reader, the same with the static ones, and a plugin
#     that a host loads with dlopen())
#     against that prefix only, and runs them;
#  2. checks each trace with the installed `gentrace validate`, with Go's
#     parser ($GENTRACE_GOTOOL, tests/go/build.sh), and that `stats --json`
#     counts exactly the tasks, regions and logs each program made;
#  3. runs the Bazel-built demo and compares `stats --json` of the
#     CMake-built and the Bazel-built gentrace on its trace and on the
#     examples' traces.
# Exit: 0 pass, 1 fail, 3 passed but left out Go's checks (no
# GENTRACE_GOTOOL), which `./dev test` counts as not green.
# GENTRACE_CMAKE_TEST_BUILD: the CMake build directory (default
# out/cmake-test-build, kept between runs).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

build_dir=${GENTRACE_CMAKE_TEST_BUILD:-$ROOT/out/cmake-test-build}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
failures=0

fail() {
  printf 'install_test: FAIL: %s\n' "$*" >&2
  ((failures += 1))
}

# count KIND STATS_JSON: the number of KIND events in `stats --json` output.
count() {
  sed -n "s/.*\"$1\": \([0-9]*\).*/\1/p" <<<"$2"
}

# check_trace NAME FILE TASKS REGIONS LOGS: the installed gentrace and Go's
# parser accept FILE, which holds exactly these tasks, regions and logs.
check_trace() {
  local name=$1 file=$2 tasks=$3 regions=$4 logs=$5 stats k want
  if ! "$prefix/bin/gentrace" validate "$file"; then
    fail "$name: gentrace validate rejects $file"
    return
  fi
  if [[ -n ${GENTRACE_GOTOOL:-} ]]; then
    "$GENTRACE_GOTOOL" validate -q "$file" ||
      fail "$name: Go's parser rejects $file"
  fi
  stats=$("$prefix/bin/gentrace" stats --json "$file")
  for k in TaskBegin:$tasks TaskEnd:$tasks RegionBegin:$regions \
    RegionEnd:$regions Log:$logs; do
    want=${k#*:}
    [[ $(count "${k%%:*}" "$stats") == "$want" ]] ||
      fail "$name: ${k%%:*} is $(count "${k%%:*}" "$stats"), want $want"
  done
}

"$ROOT/tools/dev/install.sh" --build-dir="$build_dir" --build-type=Release \
  "$prefix"

for f in include/gentrace/tracer/gentrace.h include/gentrace/reader/reader.h \
  lib/libgentrace_tracer.a lib/libgentrace_tracer.so lib/libgentrace_reader.a \
  lib/libgentrace_reader.so lib/pkgconfig/gentrace.pc \
  lib/cmake/gentrace/gentraceConfig.cmake bin/gentrace; do
  [[ -e $prefix/$f ]] || fail "not installed: $f"
done

# The examples are copied out of the tree, so nothing but the prefix can
# supply their headers and libraries.
cp -r "$ROOT/examples" "$work/examples"

say "examples/pkgconfig: make"
if PKG_CONFIG_PATH=$prefix/lib/pkgconfig make -s -C "$work/examples/pkgconfig"
then
  "$work/examples/pkgconfig/traced_app" "$work/app.trace" ||
    fail "traced_app failed"
  # 4 threads x 20 jobs: a task, two regions and two logs each.
  check_trace traced_app "$work/app.trace" 80 160 160
else
  fail "examples/pkgconfig does not build"
fi

say "examples/cmake: find_package(gentrace)"
ex=$work/examples/cmake
if cmake -S "$ex" -B "$ex/build" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" >"$work/ex.log" 2>&1 &&
  cmake --build "$ex/build" -j2 >>"$work/ex.log" 2>&1; then
  "$ex/build/pipeline" "$work/pipeline.trace" || fail "pipeline failed"
  # 60 requests (a task, a region, a log each) and the producer's region
  # and log.
  check_trace pipeline "$work/pipeline.trace" 60 61 61
  "$ex/build/pipeline_static" "$work/pipeline_static.trace" ||
    fail "pipeline_static failed"
  check_trace pipeline_static "$work/pipeline_static.trace" 60 61 61
  # (ldd's output whole first: `ldd | grep -q` under pipefail fails when
  # grep stops reading early.)
  libs=$(ldd "$ex/build/pipeline_static")
  [[ $libs != *libgentrace* ]] ||
    fail "pipeline_static loads a shared libgentrace"
  libs=$(ldd "$ex/build/pipeline")
  [[ $libs == *libgentrace_tracer.so* ]] ||
    fail "pipeline does not load libgentrace_tracer.so"
  "$ex/build/plugin_host" "$ex/build/libtraced_plugin.so" \
    "$work/plugin.trace" || fail "plugin_host (dlopen) failed"
  # 3 plugin threads, a task, a region and a log each.
  check_trace plugin "$work/plugin.trace" 3 3 3
  # The tracer's initial-exec TLS comes out of glibc's static TLS surplus
  # when dlopen() brings it in; it fits even with the optional part of the
  # surplus (which other libraries may have used up) set to nothing.
  GLIBC_TUNABLES=glibc.rtld.optional_static_tls=0 "$ex/build/plugin_host" \
    "$ex/build/libtraced_plugin.so" "$work/plugin_notls.trace" ||
    fail "plugin_host (dlopen, optional_static_tls=0) failed"
  check_trace plugin_notls "$work/plugin_notls.trace" 3 3 3
else
  cat "$work/ex.log" >&2
  fail "examples/cmake does not build"
fi

say "stats --json: CMake-built and Bazel-built gentrace"
bazel build --noshow_progress //tools/gentrace //tools/demo 2>"$work/bazel.log" ||
  { cat "$work/bazel.log" >&2; die "bazel build failed"; }
bin=$(bazel info bazel-bin 2>/dev/null)
"$bin/tools/demo/demo" --seconds=1 --out="$work/demo.trace" >/dev/null ||
  fail "the Bazel-built demo failed"
for t in demo app pipeline pipeline_static plugin; do
  [[ -f $work/$t.trace ]] || continue
  a=$("$prefix/bin/gentrace" stats --json "$work/$t.trace") || true
  b=$("$bin/tools/gentrace/gentrace" stats --json "$work/$t.trace") || true
  if [[ -z $a || $a != "$b" ]]; then
    fail "$t.trace: stats --json differ: CMake $a, Bazel $b"
  fi
done
[[ $(count Sync "$a") -gt 0 ]] 2>/dev/null || fail "no stats for the traces"

if ((failures > 0)); then
  echo "install_test: $failures failures"
  exit 1
fi
if [[ -z ${GENTRACE_GOTOOL:-} ]]; then
  echo "install_test: passed, but Go's parser did not check the traces" \
    "(GENTRACE_GOTOOL not set; tests/go/build.sh)"
  exit 3
fi
echo "install_test: passed"
