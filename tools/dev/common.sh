# common.sh -- helpers shared by ./dev and the scripts in tools/dev/.
# Sourced, not run. Sets ROOT to the repository root and cds there.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

# say MSG...: a progress line of our own, told apart from Bazel's output.
say() { printf '==> %s\n' "$*"; }

# die MSG...: report on stderr and stop.
die() { printf 'dev: %s\n' "$*" >&2; exit 1; }

# as_root CMD...: run CMD as root, through sudo when we are not root.
as_root() {
  if [[ ${EUID:-$(id -u)} -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root to run: $*"
  fi
}

# missing_debs PKG...: print the packages (one a line) that are not installed.
missing_debs() {
  local p
  for p in "$@"; do
    dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed' ||
      printf '%s\n' "$p"
  done
}

# tagged_binaries TAG PATTERN...: labels of the cc_binary targets under the
# patterns that carry TAG (a whole tag, not a substring of another), sorted.
# Query sees targets tagged "manual" too.
tagged_binaries() {
  local tag=$1 expr="" p out err rc=0
  shift
  for p in "$@"; do expr+="${expr:+ + }$p"; done
  err=$(mktemp)
  out=$(bazel query --noshow_progress \
    "attr(tags, '\\b$tag\\b', kind('cc_binary rule', $expr))" 2>"$err") ||
    rc=$?
  ((rc == 0)) || cat "$err" >&2
  rm -f "$err"
  ((rc == 0)) || return "$rc"
  [[ -z $out ]] || sort <<<"$out"
}

# label_path LABEL: //pkg/sub:name -> pkg/sub/name (the path of its outputs).
label_path() {
  local l=${1#//}
  l=${l/://}
  printf '%s\n' "${l#/}"
}

# warn_foreign_symlinks: when expanding //..., Bazel skips its convenience
# symlinks (bazel-bin, bazel-<dir>, ...) only while they point into its own
# output base. A build run here with another --output_base re-points them,
# and then //... descends into Bazel's internals and fails to load. Say so
# up front rather than leave a wall of loading errors unexplained.
warn_foreign_symlinks() {
  local base link target foreign=()
  base=$(bazel info output_base 2>/dev/null) || return 0
  for link in bazel-*; do
    [[ -L $link ]] || continue
    target=$(readlink "$link")
    [[ $target == "$base" || $target == "$base"/* ]] && continue
    grep -qxF "$link" .bazelignore 2>/dev/null && continue
    foreign+=("$link")
  done
  ((${#foreign[@]} == 0)) ||
    printf 'dev: warning: %s point outside this output base (%s), so //... %s\n' \
      "${foreign[*]}" "$base" \
      "descends into them; remove them or list them in .bazelignore" >&2
}
