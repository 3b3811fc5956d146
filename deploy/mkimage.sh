#!/bin/bash
# Builds the harness's container image as an OCI image layout, without a
# registry, podman or docker (as clusters/local/mkimages.sh builds the local
# node's test images): one reproducible layer holding
#   /usr/bin/userns-e2e                 the binary given (the release build)
#   /usr/share/userns-e2e/scenarios     the suite
#   the shared libraries the binary links and the dynamic loader (from ldd)
#   /etc/ssl/certs/ca-certificates.crt  this machine's CA bundle
#   /etc/passwd, /etc/group             uid 65532 (userns-e2e), /tmp
# Usage: deploy/mkimage.sh OUTDIR [BINARY] [NAME]
#   BINARY defaults to target/release/userns-e2e, NAME to localhost/userns-e2e:latest.
# Writes OUTDIR/userns-e2e, the layout (`skopeo copy oci:OUTDIR/userns-e2e
# containers-storage:NAME` loads it into a CRI-O node's storage; `tar -C
# OUTDIR/userns-e2e -cf userns-e2e.tar .` makes an oci-archive of it).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:?usage: mkimage.sh OUTDIR [BINARY] [NAME]}
bin=${2:-$here/target/release/userns-e2e}
name=${3:-localhost/userns-e2e:latest}
certs=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
[ -x "$bin" ] || { echo "mkimage.sh: no binary at $bin (cargo build --release)" >&2; exit 1; }
[ -f "$certs" ] || { echo "mkimage.sh: no CA bundle at $certs (install ca-certificates or set CA_BUNDLE)" >&2; exit 1; }
case $(uname -m) in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; *) arch=$(uname -m) ;; esac

rm -rf "$out"; mkdir -p "$out"
root=$out/rootfs
mkdir -p "$root"/usr/bin "$root"/usr/share/userns-e2e "$root"/etc/ssl/certs "$root"/tmp "$root"/results
install -m 0755 "$bin" "$root/usr/bin/userns-e2e"
cp -r "$here/scenarios" "$root/usr/share/userns-e2e/scenarios"
cp "$certs" "$root/etc/ssl/certs/ca-certificates.crt"
# Every library ldd resolves, at the same path, and the loader (`/lib64/ld-…`).
ldd "$bin" | awk '/=> \// {print $3} /^[ \t]*\// {print $1}' | sort -u | while read -r lib; do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
printf 'root:x:0:0:root:/root:/sbin/nologin\nuserns-e2e:x:65532:65532:userns-e2e:/tmp:/sbin/nologin\n' > "$root/etc/passwd"
printf 'root:x:0:\nuserns-e2e:x:65532:\n' > "$root/etc/group"
chmod 1777 "$root/tmp"
chown -R 65532:65532 "$root/results" 2>/dev/null || chmod 0777 "$root/results"
# Reproducible layer: fixed order, times and owners (results/ owned by the user).
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$root" -cf "$out/layer.tar" \
  --exclude=./results .
tar --sort=name --mtime=@0 --owner=65532 --group=65532 --numeric-owner -C "$root" -rf "$out/layer.tar" ./results

dest=$out/userns-e2e
mkdir -p "$dest/blobs/sha256"
store() { # file → blob; prints "digest size"
  local digest size
  digest=$(sha256sum "$1" | cut -d' ' -f1); size=$(stat -c %s "$1")
  cp "$1" "$dest/blobs/sha256/$digest"
  echo "$digest $size"
}
read -r layer layer_size < <(store "$out/layer.tar")
printf '{"architecture":"%s","os":"linux","config":{"User":"65532:65532","Env":["PATH=/usr/bin:/bin","USERNS_E2E_SCENARIOS=/usr/share/userns-e2e/scenarios","SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"],"Entrypoint":["/usr/bin/userns-e2e"],"Cmd":["run","--out","/results","/usr/share/userns-e2e/scenarios"],"WorkingDir":"/tmp"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
  "$arch" "$layer" > "$out/config.json"
read -r cfg cfg_size < <(store "$out/config.json")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
  "$cfg" "$cfg_size" "$layer" "$layer_size" > "$out/manifest.json"
read -r man man_size < <(store "$out/manifest.json")
echo '{"imageLayoutVersion":"1.0.0"}' > "$dest/oci-layout"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"},"platform":{"architecture":"%s","os":"linux"}}]}' \
  "$man" "$man_size" "$name" "${name##*:}" "$arch" > "$dest/index.json"
rm -rf "$root" "$out/layer.tar" "$out/config.json" "$out/manifest.json"
echo "$dest"
