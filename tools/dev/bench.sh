#!/usr/bin/env bash
# bench.sh -- `./dev bench [TARGET...] [ARGS...]`: build every cc_binary
# tagged "benchmark" under the targets (default //...) with -c opt and run
# each in turn. Arguments that are not target patterns (//..., :name, @repo)
# go to every benchmark binary, e.g. --benchmark_filter=BM_Write; so does
# everything after "--".
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

patterns=()
args=()
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
mapfile -t benches < <(tagged_binaries benchmark "${patterns[@]}")
if ((${#benches[@]} == 0)); then
  echo "no benchmarks yet (cc_binary tagged \"benchmark\" under ${patterns[*]})"
  exit 0
fi

bazel build -c opt -- "${benches[@]}"
bin=$(bazel info -c opt bazel-bin 2>/dev/null)
rc=0
for t in "${benches[@]}"; do
  say "$t ${args[*]}"
  "$bin/$(label_path "$t")" "${args[@]}" || { say "$t failed"; rc=1; }
done
exit "$rc"
