#!/bin/bash
# The harness's own local node: containerd >= 2.0 + runc >= 1.2 with the CRI
# plugin, everything under one folder, no image registry.
#
#   node.sh provision DIR   install/download/build what the node needs (cached)
#   node.sh start DIR       start containerd (idempotent), import the test images
#   node.sh stop DIR        stop containers, containerd and shims; unmount; remove netns and bridge
#   node.sh status DIR      key=value lines; exit 0 when running, 1 when stopped
#
# Debian 12's own containerd (1.6) and runc (1.1) cannot run user-namespaced
# pods, so both come from Debian's newer suites through a private apt view that
# reuses the mirror this machine is configured with (no mirror host is written
# here). runc needs a newer glibc than Debian 12's; it gets its own, via patchelf.
set -euo pipefail

cmd=${1:?usage: node.sh provision|start|stop|status DIR}
DIR=${2:?usage: node.sh $cmd DIR}
DIR=$(realpath -m "$DIR")
here=$(cd "$(dirname "$0")" && pwd)
SOCK=$DIR/run/containerd.sock
CTR="$DIR/x/usr/bin/ctr --address $SOCK -n k8s.io"
MARKER=$DIR/.provisioned

LOG=node
# shellcheck source=common.sh
. "$here/common.sh"
node_network

provision() {
  if [ -f "$MARKER" ] && [ -x "$DIR/x/usr/bin/containerd" ] && [ -x "$DIR/runc/runc" ] && [ -f "$DIR/img/busybox.tar" ]; then
    return 0
  fi
  [ "$(id -u)" = 0 ] || die "provisioning needs root"
  mkdir -p "$DIR"/{debs,run,tmp,cni/net.d,cni/ipam,opt,x,runc/lib,logs}
  host_packages busybox-static containernetworking-plugins patchelf iproute2
  log "downloading containerd, runc and libc6 from Debian's newer suites"
  apt_view
  apt-get "${APT_OPTS[@]}" update -qq
  rm -f "$DIR"/debs/*.deb
  (cd "$DIR/debs" && apt-get "${APT_OPTS[@]}" download -qq containerd runc libc6)
  rm -rf "$DIR/x" && mkdir -p "$DIR/x"
  for d in "$DIR"/debs/*.deb; do dpkg -x "$d" "$DIR/x"; done
  cp "$DIR/x/usr/sbin/runc" "$DIR/runc/runc"
  cp -L "$DIR"/x/usr/lib/x86_64-linux-gnu/{ld-linux-x86-64.so.2,libc.so.6} "$DIR/runc/lib/"
  cp -L /lib/x86_64-linux-gnu/libseccomp.so.2 "$DIR/runc/lib/"
  patch_private "$DIR/runc/runc" "$DIR/runc/lib"
  local cv rv
  cv=$("$DIR/x/usr/bin/containerd" --version | awk '{print $3}' | sed 's/^v//; s/[+~-].*//')
  rv=$("$DIR/runc/runc" --version | awk 'NR==1{print $3}' | sed 's/[+~-].*//')
  version_at_least "$cv" 2.0 || die "containerd $cv is older than 2.0 (user-namespaced pods need >= 2.0)"
  version_at_least "$rv" 1.2 || die "runc $rv is older than 1.2 (idmapped mounts need >= 1.2)"
  # containerd 2.x refuses user-namespaced pods unless runc reports idmap mounts.
  "$DIR/runc/runc" features | grep -q '"idmap"' || die "runc $rv does not report idmap mount support"
  log "building test images (busybox, pause) from busybox-static"
  bash "$here/mkimages.sh" "$DIR/img" >/dev/null
  printf 'containerd=%s\nrunc=%s\n' "$cv" "$rv" > "$MARKER"
  log "provisioned containerd $cv and runc $rv in $DIR"
}

write_config() {
  cat > "$DIR/config.toml" <<C
version = 3
root = '$DIR/root'
state = '$DIR/state'
disabled_plugins = ['io.containerd.nri.v1.nri']
[grpc]
  address = '$SOCK'
[ttrpc]
  address = '$SOCK.ttrpc'
[plugins]
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = 'overlayfs'
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = 'docker.io/library/pause:latest'
  [plugins.'io.containerd.cri.v1.runtime']
    # root in these VMs lacks CAP_SYS_RESOURCE for negative OOM scores
    restrict_oom_score_adj = true
    # keeps pod network namespaces under DIR, so stop can find leftovers
    netns_mounts_under_state_dir = true
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = 'io.containerd.runc.v2'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = '$DIR/runc/runc'
        Root = '$DIR/runc-root'
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      bin_dirs = ['/usr/lib/cni']
      conf_dir = '$DIR/cni/net.d'
  [plugins.'io.containerd.internal.v1.opt']
    path = '$DIR/opt'
C
  write_cni userns-e2e
}

pid_of() { [ -f "$DIR/containerd.pid" ] && cat "$DIR/containerd.pid" || true; }
running() { local p; p=$(pid_of); [ -n "$p" ] && [ -d "/proc/$p" ] && grep -q containerd "/proc/$p/cmdline" 2>/dev/null; }

start() {
  provision
  if running && $CTR version >/dev/null 2>&1; then
    echo "unix://$SOCK"; return 0
  fi
  [ "$(id -u)" = 0 ] || die "starting the node needs root"
  mkdir -p "$DIR"/{run,tmp,cni/net.d,cni/ipam,opt}
  write_config
  TMPDIR=$DIR/tmp setsid "$DIR/x/usr/bin/containerd" --config "$DIR/config.toml" >"$DIR/containerd.log" 2>&1 </dev/null &
  echo $! > "$DIR/containerd.pid"
  for _ in $(seq 200); do
    $CTR version >/dev/null 2>&1 && break
    running || { tail -n 20 "$DIR/containerd.log" >&2; die "containerd exited while starting (log: $DIR/containerd.log)"; }
    sleep 0.05
  done
  $CTR version >/dev/null 2>&1 || { tail -n 20 "$DIR/containerd.log" >&2; die "containerd did not answer within 10s (log: $DIR/containerd.log)"; }
  local have; have=$($CTR images ls -q 2>/dev/null || true)
  for img in busybox pause; do
    grep -qx "docker.io/library/$img:latest" <<<"$have" || $CTR images import "$DIR/img/$img.tar" >/dev/null
  done
  echo "unix://$SOCK"
}

stop() {
  if running; then
    # Containers first: killing containerd alone would orphan them with their shims.
    for t in $($CTR tasks ls -q 2>/dev/null || true); do
      $CTR tasks kill -s SIGKILL "$t" >/dev/null 2>&1 || true
      $CTR tasks delete -f "$t" >/dev/null 2>&1 || true
    done
    local p; p=$(pid_of)
    kill -TERM "$p" 2>/dev/null || true
    for _ in $(seq 100); do [ -d "/proc/$p" ] || break; sleep 0.05; done
    kill -KILL "$p" 2>/dev/null || true
  fi
  rm -f "$DIR/containerd.pid"
  # Shims and container processes of this node (their command lines name our socket or folder).
  for p in $(pgrep -f -- "-address $SOCK" 2>/dev/null || true) $(pgrep -f -- "$DIR/runc-root" 2>/dev/null || true); do
    kill -KILL "$p" 2>/dev/null || true
  done
  # Mounts under DIR (rootfs, shm, netns), deepest first.
  unmount_under
  remove_bridge
  return 0
}

status() {
  status_head
  [ -f "$MARKER" ] && cat "$MARKER"
  running
}

case $cmd in
  provision) provision ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) die "unknown command $cmd (provision|start|stop|status)" ;;
esac
