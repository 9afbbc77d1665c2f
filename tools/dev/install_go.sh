#!/usr/bin/env bash
# install_go.sh -- install the Go toolchains whose tracer gentrace ports, as
# Debian packages from bookworm-backports: /usr/lib/go-1.23 (the reference:
# its src/ holds runtime/trace*.go, internal/trace and cmd/trace) and
# /usr/lib/go-1.22 (the first release with this trace format).
#
# Debian 12 only. When a package is missing and bookworm-backports is not in
# the APT sources, adds it, using the Debian mirror this machine is already
# configured with (never a fixed host). Does nothing when all are present.
# Ends by printing `go version` of /usr/lib/go-1.23/bin/go.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

suite=bookworm-backports
debs=(golang-1.23-go golang-1.23-src golang-1.22-go golang-1.22-src)

# backports_configured: does an enabled APT source list the suite already?
backports_configured() {
  local f files=(/etc/apt/sources.list /etc/apt/sources.list.d/*.list
    /etc/apt/sources.list.d/*.sources)
  for f in "${files[@]}"; do
    [[ -f $f ]] || continue
    case $f in
      *.sources)
        # deb822 stanzas; one with "Enabled: no" does not count.
        awk -v suite="$suite" 'BEGIN { RS = ""; found = 1 }
          tolower($0) ~ /(^|\n)enabled: *no/ { next }
          { n = split($0, l, "\n")
            for (i = 1; i <= n; i++)
              if (l[i] ~ /^Suites:/ && (" " l[i] " ") ~ (" " suite " "))
                found = 0 }
          END { exit found }' "$f" && return 0 ;;
      *)
        grep -Eq "^[[:space:]]*deb[[:space:]].*[[:space:]]$suite([[:space:]]|$)" \
          "$f" && return 0 ;;
    esac
  done
  return 1
}

# debian_mirror: the first configured URI that serves the main "bookworm"
# suite (so not the security archive, nor a third-party repository).
debian_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    awk 'BEGIN { RS = "" }
      tolower($0) ~ /(^|\n)enabled: *no/ { next }
      { uris = ""; main = 0; n = split($0, l, "\n")
        for (i = 1; i <= n; i++) {
          if (l[i] ~ /^URIs:/) { uris = l[i]; sub(/^URIs: */, "", uris) }
          if (l[i] ~ /^Suites:/ && (" " l[i] " ") ~ / bookworm /) main = 1
        }
        if (!main) next
        m = split(uris, u, " ")
        for (j = 1; j <= m; j++)
          if (u[j] !~ /security/) { print u[j]; exit }
      }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $f ]] || continue
    # deb [options] URI SUITE COMPONENTS...
    sed -E -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" |
      awk '$1 == "deb" && $3 == "bookworm" && $2 !~ /security/ { print $2 }'
  done
}

mapfile -t missing < <(missing_debs "${debs[@]}")
if ((${#missing[@]} > 0)); then
  . /etc/os-release
  [[ ${VERSION_CODENAME:-} == bookworm ]] ||
    die "install_go.sh: needs Debian 12 (bookworm), found ${PRETTY_NAME:-?}"
  if ! backports_configured; then
    mirror=$(debian_mirror | head -n 1)
    [[ -n $mirror ]] ||
      die "install_go.sh: no Debian mirror for bookworm in /etc/apt/sources*"
    say "adding $suite from $mirror"
    printf '%s\n' "Types: deb" "URIs: $mirror" "Suites: $suite" \
      "Components: main" \
      "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" |
      as_root tee "/etc/apt/sources.list.d/$suite.sources" >/dev/null
  fi
  say "installing ${missing[*]} from $suite"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends -t "$suite" "${missing[@]}" >/dev/null
fi

/usr/lib/go-1.23/bin/go version
