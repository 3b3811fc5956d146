#!/bin/bash
# Builds the local node's two test images as OCI image-layout tarballs from
# Debian's busybox-static, so no registry is needed: `busybox` (a shell and
# the usual tools, entrypoint sh) and `pause` (entrypoint sleeps forever).
set -euo pipefail
out=${1:?usage: mkimages.sh OUTDIR}
rm -rf "$out"; mkdir -p "$out"/rootfs/{bin,etc,proc,sys,dev,tmp,root} "$out"/blobs/sha256
root=$out/rootfs
cp /bin/busybox "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
chmod 1777 "$root/tmp"
# Reproducible layer: fixed order, times and owners.
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$root" -cf "$out/layer.tar" .

# Stores a file as a content-addressed blob; prints "digest size".
store() {
  local digest size
  digest=$(sha256sum "$1" | cut -d' ' -f1); size=$(stat -c %s "$1")
  cp "$1" "$out/blobs/sha256/$digest"
  echo "$digest $size"
}
read -r layer layer_size < <(store "$out/layer.tar")

image() { # name entrypoint-json
  local name=$1 entrypoint=$2 cfg cfg_size man man_size dest
  dest=$out/$name
  printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],"Entrypoint":%s,"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$entrypoint" "$layer" > "$out/$name.config.json"
  read -r cfg cfg_size < <(store "$out/$name.config.json")
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
    "$cfg" "$cfg_size" "$layer" "$layer_size" > "$out/$name.manifest.json"
  read -r man man_size < <(store "$out/$name.manifest.json")
  mkdir -p "$dest/blobs/sha256"
  cp "$out/blobs/sha256/"{"$layer","$cfg","$man"} "$dest/blobs/sha256/"
  echo '{"imageLayoutVersion":"1.0.0"}' > "$dest/oci-layout"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"docker.io/library/%s:latest","org.opencontainers.image.ref.name":"latest"},"platform":{"architecture":"amd64","os":"linux"}}]}' \
    "$man" "$man_size" "$name" > "$dest/index.json"
  tar -C "$dest" -cf "$out/$name.tar" oci-layout index.json blobs
}
image busybox '["/bin/sh"]'
image pause '["/bin/sleep","2147483647"]'
ls "$out"/*.tar
