#!/usr/bin/env bash
# demo.sh -- `./dev demo [ARGS...]`: install what is missing, build the
# traced demo program (//tools/demo, -c opt), run it, and say where its trace
# is and how to open it. ARGS go to the demo (--seconds=N, --out=PATH, ...).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

"$ROOT/tools/dev/deps.sh"
say "building //tools/demo"
bazel build -c opt //tools/demo
mkdir -p "$ROOT/out"
out="$ROOT/out/demo.trace"
args=("--out=$out")
for a in "$@"; do
  case $a in
    --out=*) out=${a#--out=}; args=("$a") ;;
  esac
done
for a in "$@"; do
  case $a in --out=*) ;; *) args+=("$a") ;; esac
done
say "running the demo"
"$(bazel info -c opt bazel-bin 2>/dev/null)/tools/demo/demo" "${args[@]}"
say "trace written to $out"
