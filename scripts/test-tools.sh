# Test tools the control-plane tests run for real (and the demo when no kubectl is installed). Sourced by
# ./run-tests and ./svcnet demo, which call svcnet_test_tools.
# Idempotent and quiet when everything is already there.

SVCNET_ROOT="${SVCNET_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"

# Debian's kubectl 1.20 (package kubernetes-client). Installing the package conflicts with the preinstalled
# Google Cloud SDK kubectl (same /usr/bin/kubectl), so the .deb is downloaded and unpacked under .build/.
svcnet_kubectl120_dir() { echo "$SVCNET_ROOT/.build/kubectl-1.20"; }

# What the image test needs: scripts/build-image.sh's tools and a container runtime that works on these machines
# (podman with runc; crun refuses their hybrid cgroup layout).
svcnet_image_tools() {
  local missing=() pair
  for pair in podman:podman runc:runc skopeo:skopeo umoci:umoci; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${pair%%:*}" ] || missing+=("${pair#*:}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || { echo "svcnet: missing ${missing[*]} for the image test (run as root once)" >&2; return 0; }
  echo "svcnet: installing ${missing[*]} ..." >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

svcnet_test_tools() {
  local dir bin tmp deb
  svcnet_image_tools || return 1
  dir="$(svcnet_kubectl120_dir)"
  bin="$dir/usr/bin/kubectl"
  [ -x "$bin" ] && return 0
  command -v apt-get >/dev/null 2>&1 || { echo "svcnet: apt-get missing, cannot fetch kubectl 1.20" >&2; return 1; }
  tmp="$(mktemp -d)"
  if ! (cd "$tmp" && apt-get download -qq kubernetes-client >/dev/null 2>&1); then
    apt-get update -qq >/dev/null 2>&1
    (cd "$tmp" && apt-get download -qq kubernetes-client >/dev/null 2>&1) || {
      echo "svcnet: apt-get download kubernetes-client failed" >&2; rm -rf "$tmp"; return 1; }
  fi
  deb="$(ls "$tmp"/kubernetes-client_*.deb 2>/dev/null | head -1)"
  mkdir -p "$dir.tmp" && dpkg-deb -x "$deb" "$dir.tmp" && rm -rf "$dir" && mv "$dir.tmp" "$dir"
  rm -rf "$tmp"
  [ -x "$bin" ] || { echo "svcnet: $bin not found after unpacking" >&2; return 1; }
}
