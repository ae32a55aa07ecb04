#!/usr/bin/env bash
# Builds svcnet's container image (an OCI image layout plus an OCI archive) from Debian packages and the repository,
# without any container registry: the machine's apt sources give the packages, the .NET SDK publishes svcnet
# self-contained. The root filesystem is "distroless" in the way kube-proxy's own base image is
# (registry.k8s.io/build-image/distroless-iptables): the packages' files extracted with dpkg-deb, no package
# manager, no maintainer scripts; iptables' commands point at a wrapper that picks the legacy or nft back end the
# node already uses, as kube-proxy's iptables-wrapper does.
#
# Reproducible: every file's time is SOURCE_DATE_EPOCH (default: the last commit's time), archives are sorted, and the
# package versions are recorded in the image (/usr/share/svcnet/packages.txt) and in the output folder, so the same
# commit and the same package versions give the same layer digest.
#
# Usage: scripts/build-image.sh [--out DIR] [--tag NAME:TAG] [--publish DIR]
#   --out DIR       output folder (default .build/image): oci/ (an OCI image layout), svcnet-image.tar (an OCI
#                   archive for `podman load`, `skopeo copy`, `kind load image-archive`), rootfs/, packages.txt,
#                   image.env (tag, digests, sizes)
#   --tag NAME:TAG  image reference (default localhost/svcnet:VERSION)
#   --publish DIR   use an existing `dotnet publish -r linux-x64 --self-contained` output instead of publishing
set -euo pipefail
ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
OUT="$ROOT/.build/image"
TAG=""
PUBLISH=""
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    --tag) TAG="$2"; shift 2 ;;
    --publish) PUBLISH="$2"; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "build-image: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "build-image: run as root (files in the image must be owned by root)" >&2; exit 1; }

VERSION=$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' "$ROOT/src/Svcnet.Cli/Svcnet.Cli.csproj" | head -1)
TAG="${TAG:-localhost/svcnet:$VERSION}"
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || echo 0)}"
CREATED=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)

need=()
for pair in apt-get:apt dpkg-deb:dpkg umoci:umoci; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "build-image: installing ${need[*]} ..." >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

work=$(mktemp -d /tmp/svcnet-image.XXXXXX)
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"
mkdir -p "$rootfs" "$work/debs"
chmod 0755 "$work"
id _apt >/dev/null 2>&1 && chown _apt "$work/debs"   # apt downloads as _apt where it can

# 1. Debian packages: what the proxy runs (iptables in both back ends, nft, conntrack, ip, sysctl, nfacct), a shell
#    for the wrapper, and the libraries .NET needs. The dependency closure comes from apt; what only serves package
#    management or maintainer scripts (debconf, perl, dpkg ...) is left out, and step 4 proves nothing was missed by
#    running every tool inside the finished root filesystem.
WANTED="iptables nftables conntrack iproute2 procps nfacct dash libssl3 libstdc++6 zlib1g"
LEFT_OUT='^(cdebconf|debconf|debianutils|dpkg|init-system-helpers|install-info|libdebian-installer4|libelogind0|lib.*-perl|libperl5\.[0-9]+|perl|perl-base|perl-modules-.*|libnewt0\.52|libslang2|libtextwrap1|tar|usr-is-merged|usrmerge|libgdbm-compat4|libgdbm6)$'
closure() {
  apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances \
    $WANTED 2>/dev/null | grep -v '^ ' | grep -v '^<' | sort -u | grep -Ev "$LEFT_OUT" || true
}
mapfile -t packages < <(closure)
if [ ${#packages[@]} -lt 10 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2   # no package lists yet on a fresh machine
  mapfile -t packages < <(closure)
fi
(cd "$work/debs" && apt-get download -qq "${packages[@]}" >&2)
: > "$work/packages.txt"
for deb in "$work"/debs/*.deb; do
  dpkg-deb -x "$deb" "$rootfs"
  dpkg-deb -f "$deb" Package Version | paste -sd' ' - | sed 's/^Package: \(.*\) Version: /\1 /' >> "$work/packages.txt"
done
sort -o "$work/packages.txt" "$work/packages.txt"

# 2. svcnet, self-contained (no .NET install in the image).
#    Published from a copy of the sources, so that the build shares no obj/ folder with a build or test run of the
#    working tree, with no debug directory and source paths mapped, so that the binaries do not depend on where the
#    copy was.
if [ -z "$PUBLISH" ]; then
  PUBLISH="$work/publish"
  mkdir -p "$work/src"
  (cd "$ROOT" && git ls-files -co --exclude-standard -- src bench Directory.Build.props Directory.Packages.props global.json .editorconfig \
    | tar -cf - -T -) | tar -C "$work/src" -xf -
  echo "build-image: dotnet publish (self-contained, linux-x64) ..." >&2
  if ! dotnet publish "$work/src/src/Svcnet.Cli/Svcnet.Cli.csproj" -c Release -r linux-x64 --self-contained \
      -p:DebugType=none -p:PathMap="$work/src=/src" -o "$PUBLISH" -nologo -v:q \
      >"$work/publish.log" 2>&1; then
    grep -E 'error' "$work/publish.log" | sort -u | head -20 >&2
    echo "build-image: dotnet publish failed" >&2
    exit 1
  fi
fi
mkdir -p "$rootfs/usr/lib/svcnet" "$rootfs/usr/local/bin" "$rootfs/usr/share/svcnet"
cp -a "$PUBLISH"/. "$rootfs/usr/lib/svcnet/"
rm -f "$rootfs"/usr/lib/svcnet/*.pdb "$rootfs"/usr/lib/svcnet/*.xml
ln -sf ../../lib/svcnet/svcnet "$rootfs/usr/local/bin/svcnet"
cp "$work/packages.txt" "$rootfs/usr/share/svcnet/packages.txt"

# 3. The rest of a root filesystem: the iptables wrapper, /bin/sh, passwd/group for root, empty runtime folders.
install -m 0755 "$ROOT/deploy/image/iptables-wrapper" "$rootfs/usr/sbin/iptables-wrapper"
for cmd in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
  ln -sf iptables-wrapper "$rootfs/usr/sbin/$cmd"
done
ln -sf dash "$rootfs/bin/sh"
mkdir -p "$rootfs/etc" "$rootfs/tmp" "$rootfs/run" "$rootfs/var/lib/kube-proxy" "$rootfs/proc" "$rootfs/sys" "$rootfs/dev"
chmod 1777 "$rootfs/tmp"
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$rootfs/etc/passwd"
printf 'root:x:0:\n' > "$rootfs/etc/group"
printf 'hosts: files dns\n' > "$rootfs/etc/nsswitch.conf"
rm -rf "$rootfs/usr/share/doc" "$rootfs/usr/share/man" "$rootfs/usr/share/info" "$rootfs/usr/share/lintian" \
  "$rootfs/usr/share/locale" "$rootfs/etc/init.d" "$rootfs/lib/systemd" "$rootfs/usr/lib/systemd"

# 4. Every tool the proxy runs must start inside the image (a missing library fails here, not on a node). .NET needs
#    /proc, so the check runs in a private mount namespace with /proc mounted in the root filesystem; the mount goes
#    away with the namespace.
for tool in "/usr/sbin/xtables-nft-multi iptables-nft-save --version" "/usr/sbin/xtables-legacy-multi iptables-legacy-save --version" \
            "/usr/sbin/nft --version" "/usr/sbin/conntrack --version" "/bin/ip -V" "/sbin/sysctl --version" \
            "/usr/sbin/nfacct version" "/usr/lib/svcnet/svcnet --version"; do
  # shellcheck disable=SC2086
  if ! unshare --mount --fork sh -c 'mount -t proc proc "$1/proc" && shift && exec chroot "$@"' _ "$rootfs" "$rootfs" $tool >/dev/null 2>"$work/tool.err"; then
    echo "build-image: '$tool' does not run in the image:" >&2; cat "$work/tool.err" >&2; exit 1
  fi
done

# 5. An OCI image with one layer, every time stamp SOURCE_DATE_EPOCH.
find "$rootfs" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
oci="$work/oci"
ref="${TAG##*:}"
umoci init --layout "$oci"
umoci new --image "$oci:$ref"
umoci insert --image "$oci:$ref" --history.created "$CREATED" --history.created_by "scripts/build-image.sh: Debian packages and svcnet" \
  "$rootfs" /
umoci config --image "$oci:$ref" --created "$CREATED" --author "svcnet" --os linux --architecture amd64 \
  --config.entrypoint /usr/local/bin/svcnet --config.cmd proxy \
  --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --config.env DOTNET_gcServer=0 \
  --config.label "org.opencontainers.image.title=svcnet" --config.label "org.opencontainers.image.version=$VERSION" \
  --no-history
umoci gc --layout "$oci"

# 6. Output: the layout, an OCI archive of it (deterministic tar), the root filesystem (for running without a
#    container runtime), and the figures.
rm -rf "$OUT"
mkdir -p "$OUT"
cp -a "$oci" "$OUT/oci"
tar -C "$oci" --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner -cf "$OUT/svcnet-image.tar" .
mv "$rootfs" "$OUT/rootfs"
cp "$work/packages.txt" "$OUT/packages.txt"
manifest=$(python3 -c 'import json,sys; i=json.load(open(sys.argv[1])); print(i["manifests"][0]["digest"])' "$oci/index.json")
layer_bytes=$(du -sb "$oci/blobs" | cut -f1)
rootfs_bytes=$(du -sbx "$OUT/rootfs" | cut -f1)
{
  echo "tag: $TAG"
  echo "manifest_digest: $manifest"
  echo "compressed_bytes: $layer_bytes"
  echo "rootfs_bytes: $rootfs_bytes"
  echo "packages: $(wc -l < "$work/packages.txt")"
  echo "source_date_epoch: $SOURCE_DATE_EPOCH"
} | tee "$OUT/image.env"
echo "build-image: load it with: podman load -i $OUT/svcnet-image.tar (or skopeo copy oci-archive:$OUT/svcnet-image.tar ...)" >&2
