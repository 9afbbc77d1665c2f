#!/usr/bin/env bash
# bench.sh -- `./dev bench`: gentrace's costs next to Go's tracer and the
# floor, in one run (docs/BUILDING.md, docs/TRACER.md).
#
#   ./dev bench [--quick] [--rounds=N] [--out=FILE]
#       The suite: builds the benchmarks with -c opt and Go's side with Go
#       1.23, then runs tests/benchmark_suite, which interleaves them for
#       several rounds and prints a table; writes FILE (default
#       out/bench.json) and keeps every program's own output in
#       out/bench-raw/. --quick: fewer, shorter rounds and a smaller trace
#       for the reader (about a minute). cc_binary targets tagged
#       "benchmark_suite" join the suite as extra rows.
#
#   ./dev bench TARGET... [ARGS...]   (or any other argument)
#       One or more benchmark binaries on their own: builds every cc_binary
#       tagged "benchmark" under the targets (default //...) with -c opt and
#       runs each in turn. Arguments that are not target patterns (//...,
#       :name, @repo) go to every binary, e.g. --benchmark_filter=BM_Write;
#       so does everything after "--".
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# ------------------------------------------------------- one binary (old) ---

run_binaries() {
  local patterns=() args=()
  while (($# > 0)); do
    case $1 in
      --) shift; args+=("$@"); break ;;
      //* | :* | @*) patterns+=("$1") ;;
      *) args+=("$1") ;;
    esac
    shift
  done
  ((${#patterns[@]} > 0)) || patterns=(//...)

  warn_foreign_symlinks
  local benches
  mapfile -t benches < <(tagged_binaries benchmark "${patterns[@]}")
  if ((${#benches[@]} == 0)); then
    echo "no benchmarks yet (cc_binary tagged \"benchmark\" under ${patterns[*]})"
    exit 0
  fi

  bazel build -c opt -- "${benches[@]}"
  local bin rc=0 t
  bin=$(bazel info -c opt bazel-bin 2>/dev/null)
  for t in "${benches[@]}"; do
    say "$t ${args[*]}"
    "$bin/$(label_path "$t")" "${args[@]}" || { say "$t failed"; rc=1; }
  done
  exit "$rc"
}

# ------------------------------------------------------------------ suite ---

quick=0 rounds="" out="out/bench.json"
suite=1
for a in "$@"; do
  case $a in
    --quick) quick=1 ;;
    --rounds=*) rounds=${a#--rounds=} ;;
    --out=*) out=${a#--out=} ;;
    -h | --help) sed -n '2,21p' "$0"; exit 0 ;;
    *) suite=0 ;;
  esac
done
((suite == 1)) || run_binaries "$@"

goroot=${GENTRACE_GOROOT:-/usr/lib/go-1.23}
[[ -x $goroot/bin/go ]] || die "bench: Go 1.23 not found at $goroot (./dev deps installs it)"
cache="${GENTRACE_GO_CACHE:-${HOME:-/tmp}/.cache/gentrace-go}"
mkdir -p "$cache" "$ROOT/out"
go_env=(env GOROOT="$goroot" GOCACHE="$cache/gocache" GOTOOLCHAIN=local
  GOFLAGS= GOENV=off GOWORK=off CGO_ENABLED=0)

if ((quick == 1)); then
  : "${rounds:=3}"
  min_time=0.05 cpu_min_time=0.3 go_benchtime=50ms trace_rounds=100000
else
  : "${rounds:=7}"
  min_time=0.2 cpu_min_time=1 go_benchtime=200ms trace_rounds=1000000
fi

warn_foreign_symlinks
targets=(//tests:benchmark_suite //tests:tracer_benchmark
  //tests:cpu_sampling_benchmark //tests:reader_benchmark //tools/gentrace)
mapfile -t extras < <(tagged_binaries benchmark_suite //...)
say "building ${targets[*]} ${extras[*]}"
bazel build -c opt -- "${targets[@]}" "${extras[@]}"
bin=$(bazel info -c opt bazel-bin 2>/dev/null)

say "building Go's side (tests/go/tracer_benchmark) with $("$goroot/bin/go" version)"
go_bench="$cache/go_tracer_benchmark"
"${go_env[@]}" "$goroot/bin/go" build -o "$go_bench" \
  tests/go/tracer_benchmark/main.go
gotool=$(bash tests/go/build.sh | tail -n 1)
# What `go tool trace` runs, started directly (the go command's own start
# would be counted otherwise).
go_trace="$("${go_env[@]}" "$goroot/bin/go" env GOTOOLDIR)/trace"
[[ -x $go_trace ]] || die "bench: $go_trace not found (go tool trace)"

# The reader's trace: a Go program's (tests/data/go/programs/bench), made
# once per size and Go version and kept in the cache.
src=tests/data/go/programs/bench/main.go
sum=$( { cat "$src"; "$goroot/bin/go" version; } | sha256sum | cut -c1-12)
trace="$cache/bench-$trace_rounds-$sum.trace"
if [[ ! -s $trace ]]; then
  say "making the reader's trace ($trace_rounds rounds of $src)"
  "${go_env[@]}" "$goroot/bin/go" build -o "$cache/bench-trace-program" "$src"
  GODEBUG=traceadvanceperiod=100000000 "$cache/bench-trace-program" \
    "$trace.tmp" "$trace_rounds"
  mv -f "$trace.tmp" "$trace"
fi

args=(--tracer="$bin/tests/tracer_benchmark"
  --cpu="$bin/tests/cpu_sampling_benchmark"
  --reader="$bin/tests/reader_benchmark"
  --trace="$trace" --go_bench="$go_bench" --gotool="$gotool"
  --gentrace="$bin/tools/gentrace/gentrace" --go_trace="$go_trace"
  --rounds="$rounds" --min_time="$min_time" --cpu_min_time="$cpu_min_time"
  --go_benchtime="$go_benchtime" --out="$out" --raw_dir="$ROOT/out/bench-raw")
for t in "${extras[@]}"; do args+=(--extra="$bin/$(label_path "$t")"); done
rm -rf "$ROOT/out/bench-raw"
say "running $rounds rounds (nproc $(nproc), load $(cut -d' ' -f1-3 /proc/loadavg))"
"$bin/tests/benchmark_suite" "${args[@]}"
say "wrote $out"
