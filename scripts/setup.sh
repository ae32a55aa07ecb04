# Shared set-up for ./svcnet and ./run-tests: install what a fresh machine lacks, build when sources changed.
# Sourced, not executed. Everything here is idempotent and silent when there is nothing to do.

SVCNET_ROOT="${SVCNET_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
SVCNET_BUILD="$SVCNET_ROOT/.build/cli"

# Debian packages: command -> package.
svcnet_packages() {
  local missing=() pair cmd pkg
  for pair in iptables:iptables iptables-legacy-restore:iptables nft:nftables conntrack:conntrack \
              ip:iproute2 nfacct:nfacct dot:graphviz curl:curl ping:iputils-ping dig:bind9-dnsutils; do
    cmd=${pair%%:*}; pkg=${pair#*:}
    command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  if [ "$(id -u)" -ne 0 ]; then
    echo "svcnet: missing Debian packages: ${missing[*]} (run as root once to install them)" >&2
    return 0
  fi
  echo "svcnet: installing ${missing[*]} ..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

svcnet_needs_build() {
  [ -x "$SVCNET_BUILD/svcnet" ] || return 0
  [ -n "$(find "$SVCNET_ROOT/src" "$SVCNET_ROOT/bench" "$SVCNET_ROOT/Directory.Build.props" \
      "$SVCNET_ROOT/Directory.Packages.props" "$SVCNET_ROOT/global.json" \
      -newer "$SVCNET_BUILD/svcnet" \( -name '*.cs' -o -name '*.csproj' -o -name '*.props' -o -name '*.json' \) \
      -not -path '*/obj/*' -not -path '*/bin/*' -print -quit 2>/dev/null)" ]
}

svcnet_build() {
  echo "svcnet: building (Release) ..." >&2
  mkdir -p "$SVCNET_ROOT/.build"
  if ! dotnet build "$SVCNET_ROOT/src/Svcnet.Cli/Svcnet.Cli.csproj" -c Release -o "$SVCNET_BUILD" \
      -nologo -v:q >"$SVCNET_ROOT/.build/build.log" 2>&1; then
    grep -E 'error|Error' "$SVCNET_ROOT/.build/build.log" | sort -u | head -40 >&2
    echo "svcnet: build failed (full log: .build/build.log)" >&2
    return 1
  fi
  touch "$SVCNET_BUILD/svcnet"
}

svcnet_ensure() {
  svcnet_needs_build || return 0
  # Two svcnet commands started together must not build into the same folder at once: the second waits.
  mkdir -p "$SVCNET_ROOT/.build"
  exec 9>"$SVCNET_ROOT/.build/.lock"
  flock 9
  if svcnet_needs_build; then
    svcnet_packages
    command -v dotnet >/dev/null 2>&1 || { echo "svcnet: the .NET SDK (dotnet) is required" >&2; flock -u 9; return 1; }
    svcnet_build || { flock -u 9; return 1; }
  fi
  flock -u 9
}
