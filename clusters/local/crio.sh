#!/bin/bash
# The harness's own CRI-O node: a crio the user provides (a distribution's
# /usr/bin/crio, an unpacked release folder), with conmon and runc >= 1.2 (and
# crun where it can work) from Debian's newer suites, everything else under one
# folder; the test images are copied into CRI-O's storage, no registry.
#
#   crio.sh provision DIR CRIO   take crio + pinns from CRIO, fetch conmon/runc/crun, build images
#   crio.sh start DIR [CRIO]     provision (when CRIO is given), then start crio; prints its socket
#   crio.sh stop DIR [--purge]   stop containers, crio and conmon; unmount; remove netns and bridge;
#                                --purge also deletes DIR and the subordinate ids the node added
#   crio.sh status DIR           key=value lines; exit 0 when running, 1 when stopped
#
# CRIO is a `crio` binary (pinns is looked for beside it, then on PATH), a folder with
# bin/crio and bin/pinns (the project's ../shared/crio builds), or an upstream bundle with
# cri-o/bin/crio. A bundle's own conmon, runc, crun (cri-o/bin/) and CNI plugins
# (cri-o/cni-plugins/) are used when they run here; otherwise they come from Debian.
# Nothing is written to /etc/crio: the config is DIR/crio.conf plus the
# drop-in folder DIR/conf.d (e.g. `[crio.runtime] default_sysctls = [...]`), read in name order.
# CRIO_ORIGIN (environment) says where CRIO came from; `status` repeats it.
#
# The one host change: CRI-O's userns `auto` mode takes ids from the subordinate ranges of the
# user `containers`. When /etc/subuid or /etc/subgid has no such line, start adds one, says so,
# and records it in DIR/.subids-added; `stop --purge` removes exactly that line again.
#
# Variants, read by start from the environment (only when crio is not running yet):
#   CRIO_CONF     drop-in files, one path per line, copied to DIR/conf.d/90-userns-e2e-N-NAME
#                 (e.g. OpenShift's `[crio.runtime] default_sysctls`); unset: none
#   HIDE_SUBIDS=1 crio sees an /etc/subuid and /etc/subgid without `containers` lines: it runs in
#                 its own mount namespace (mounts propagate into it, none out) where copies
#                 without those lines are bound over the two files; the host's stay untouched
#   VARIANT_SET=1 the caller chose the variant: a running crio with another one is an error
set -euo pipefail

cmd=${1:?usage: crio.sh provision|start|stop|status DIR [CRIO|--purge]}
DIR=${2:?usage: crio.sh $cmd DIR}
DIR=$(realpath -m "$DIR")
ARG=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
SOCK=$DIR/crio.sock
RT=$DIR/runtime
MARKER=$DIR/.provisioned
SUBIDS_MARKER=$DIR/.subids-added
LOG=crio-node
# shellcheck source=common.sh
. "$here/common.sh"
node_network

# Oldest CRI-O with user-namespace options in the CRI (v1.25.0).
MIN_CRIO=1.25
# Packages from Debian's newer suites; the libraries are what conmon (glib) and the
# runtimes (glibc) need beyond Debian 12's.
RUNTIME_DEBS=(conmon runc crun libc6 libglib2.0-0t64 libpcre2-8-0 libblake3-0)

crio_version() { # binary
  "$1" --version 2>/dev/null | awk 'tolower($1) == "crio" && $2 == "version" {print $3; exit} $1 == "Version:" {print $2; exit}' | sed 's/^v//; s/[+~-].*//'
}

# Finds crio and pinns in what the user gave; sets SRC_CRIO and SRC_PINNS.
resolve_crio() { # path
  local p=$1 c
  [ -e "$p" ] || die "--crio $p does not exist: give a crio binary or an unpacked CRI-O release folder"
  if [ -d "$p" ]; then
    for c in "$p/bin/crio" "$p/cri-o/bin/crio" "$p/crio" "$p/usr/bin/crio"; do
      [ -f "$c" ] && { SRC_CRIO=$c; break; }
    done
    [ -n "${SRC_CRIO:-}" ] || die "no crio in $p (looked for bin/crio, cri-o/bin/crio, crio, usr/bin/crio)"
  else
    SRC_CRIO=$p
  fi
  [ -x "$SRC_CRIO" ] || die "$SRC_CRIO is not executable (chmod +x it, or point --crio at another crio)"
  SRC_PINNS=
  for c in "$(dirname "$SRC_CRIO")/pinns" /usr/libexec/crio/pinns /usr/local/bin/pinns "$(command -v pinns || true)"; do
    [ -n "$c" ] && [ -x "$c" ] && { SRC_PINNS=$c; break; }
  done
  [ -n "$SRC_PINNS" ] || die "no pinns beside $SRC_CRIO nor on PATH (CRI-O needs it to pin namespaces; it ships with every CRI-O release)"
  # An upstream bundle carries conmon, runc and crun beside crio, and the CNI plugins.
  BUNDLE_BIN= BUNDLE_CNI=
  if [ -f "$(dirname "$SRC_CRIO")/conmon" ] && [ -f "$(dirname "$SRC_CRIO")/runc" ]; then
    BUNDLE_BIN=$(dirname "$SRC_CRIO")
    BUNDLE_CNI=$(dirname "$BUNDLE_BIN")/cni-plugins
  fi
}

# Whether the bundle's conmon and runc (>= 1.2, with idmapped mounts) run on this host.
bundle_runs() {
  local v
  [ -n "${BUNDLE_BIN:-}" ] || return 1
  if ! "$BUNDLE_BIN/conmon" --version >/dev/null 2>&1; then
    log "the bundle's conmon does not run here; conmon, runc and crun come from Debian"
    return 1
  fi
  v=$("$BUNDLE_BIN/runc" --version 2>/dev/null | awk 'NR==1{print $3}' | sed 's/[+~-].*//')
  if [ -z "$v" ] || ! version_at_least "$v" 1.2 || ! "$BUNDLE_BIN/runc" features 2>/dev/null | grep -q '"idmap"'; then
    log "the bundle's runc ${v:-(does not run)} is not a runc >= 1.2 with idmapped mounts here; conmon, runc and crun come from Debian"
    return 1
  fi
}

# conmon, runc, crun and the CNI plugins of the bundle, copied into the node.
bundle_runtime() {
  host_packages busybox-static iproute2 skopeo libseccomp2 libsqlite3-0
  rm -rf "$RT" && mkdir -p "$RT/bin"
  install_file "$BUNDLE_BIN/conmon" "$RT/bin/conmon"
  install_file "$BUNDLE_BIN/runc" "$RT/bin/runc"
  if [ -f "$BUNDLE_BIN/crun" ] && "$BUNDLE_BIN/crun" --version >/dev/null 2>&1; then
    install_file "$BUNDLE_BIN/crun" "$RT/bin/crun"
  else
    log "the bundle's crun does not run here; the node uses runc"
  fi
  local cni="the bundle's cri-o/cni-plugins"
  if [ -x "$BUNDLE_CNI/bridge" ] && [ -x "$BUNDLE_CNI/host-local" ] \
    && CNI_COMMAND=VERSION "$BUNDLE_CNI/bridge" </dev/null >/dev/null 2>&1; then
    mkdir -p "$RT/cni"
    cp -a "$BUNDLE_CNI"/. "$RT/cni/"
    echo "$RT/cni" > "$RT/cni-dir"
  else
    host_packages containernetworking-plugins
    cni="Debian's containernetworking-plugins (the bundle's do not run here)"
  fi
  local crun=
  [ -x "$RT/bin/crun" ] && crun=", crun"
  RUNTIME_FROM="the CRI-O release bundle (conmon, runc$crun; CNI plugins: $cni)"
}

# Copies a file unless DIR already holds the same bytes (keeps a warm start cheap).
install_file() { # src dest
  cmp -s "$1" "$2" 2>/dev/null && return 0
  cp "$1" "$2.new" && chmod 0755 "$2.new" && mv -f "$2.new" "$2"
}

# Whether the cgroup v2 hierarchy of a hybrid host owns a controller: crun then refuses every
# container ("cgroups in hybrid mode not supported, drop all controllers from cgroupv2").
hybrid_cgroups() {
  [ -n "$(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null)" ]
}

provision_runtime() {
  local kind=debian
  bundle_runs && kind=bundle
  if [ -f "$MARKER" ] && grep -qx "runtime_kind=$kind" "$MARKER" && [ -x "$RT/bin/conmon" ] && [ -x "$RT/bin/runc" ] && [ -f "$DIR/img/busybox/index.json" ]; then
    return 0
  fi
  if [ "$kind" = bundle ]; then
    bundle_runtime
  else
    debian_runtime
  fi
  local cv rv
  cv=$("$RT/bin/conmon" --version | awk 'NR==1{print $3}')
  rv=$("$RT/bin/runc" --version | awk 'NR==1{print $3}' | sed 's/[+~-].*//')
  version_at_least "$rv" 1.2 || die "runc $rv is older than 1.2 (idmapped mounts need >= 1.2)"
  "$RT/bin/runc" features | grep -q '"idmap"' || die "runc $rv does not report idmap mount support"
  log "building test images (busybox, pause) from busybox-static"
  bash "$here/mkimages.sh" "$DIR/img" >/dev/null
  printf 'conmon=%s\nrunc=%s\ncrun=%s\nruntime_kind=%s\nruntime_from=%s\n' "$cv" "$rv" \
    "$("$RT/bin/crun" --version 2>/dev/null | awk 'NR==1{print $3}')" "$kind" "$RUNTIME_FROM" > "$MARKER"
  log "provisioned conmon $cv, runc $rv in $RT from $RUNTIME_FROM"
}

# conmon, runc and crun from Debian's newer suites, run with their own glibc.
debian_runtime() {
  # skopeo copies the test images into CRI-O's storage; crio itself links libseccomp and,
  # for builds with the libsqlite3 tag, libsqlite3.
  host_packages busybox-static containernetworking-plugins patchelf iproute2 skopeo libseccomp2 libsqlite3-0
  log "downloading conmon, runc and crun (with their glibc) from Debian's newer suites"
  apt_view
  apt-get "${APT_OPTS[@]}" update -qq
  mkdir -p "$DIR/debs"
  rm -f "$DIR"/debs/*.deb
  (cd "$DIR/debs" && apt-get "${APT_OPTS[@]}" download -qq "${RUNTIME_DEBS[@]}")
  local x=$DIR/x
  rm -rf "$x" "$RT" && mkdir -p "$x" "$RT/bin" "$RT/lib"
  for d in "$DIR"/debs/*.deb; do dpkg-deb -x "$d" "$x"; done
  cp -L "$x"/usr/lib/x86_64-linux-gnu/*.so* "$RT/lib/" 2>/dev/null || true
  cp -L "$x"/lib/x86_64-linux-gnu/*.so* "$RT/lib/" 2>/dev/null || true
  [ -e "$RT/lib/ld-linux-x86-64.so.2" ] || die "the libc6 package holds no ld-linux-x86-64.so.2"
  local b
  for b in conmon runc crun; do
    if [ -x "$x/usr/bin/$b" ]; then cp "$x/usr/bin/$b" "$RT/bin/"; else cp "$x/usr/sbin/$b" "$RT/bin/"; fi
    patch_private "$RT/bin/$b" "$RT/lib"
  done
  rm -rf "$x"
  RUNTIME_FROM="Debian packages (conmon, runc, crun from forky/sid; CNI plugins: containernetworking-plugins)"
}

provision() {
  [ "$(id -u)" = 0 ] || die "provisioning needs root"
  [ -n "$ARG" ] || die "provision needs the crio to use: crio.sh provision DIR CRIO"
  resolve_crio "$ARG"
  local v
  v=$(crio_version "$SRC_CRIO")
  [ -n "$v" ] || die "$SRC_CRIO --version printed no CRI-O version (is it crio? are its libraries installed? try: $SRC_CRIO --version)"
  version_at_least "$v" "$MIN_CRIO" || die "CRI-O $v is older than $MIN_CRIO (the first with user-namespace options in the CRI); point --crio at a newer crio"
  mkdir -p "$DIR/bin"
  install_file "$SRC_CRIO" "$DIR/bin/crio"
  install_file "$SRC_PINNS" "$DIR/bin/pinns"
  echo "$v" > "$DIR/bin/VERSION"
  printf '%s\n' "${CRIO_ORIGIN:-$SRC_CRIO}" > "$DIR/bin/ORIGIN"
  provision_runtime
}

pid_of() { [ -f "$DIR/crio.pid" ] && cat "$DIR/crio.pid" || true; }
running() { local p; p=$(pid_of); [ -n "$p" ] && [ -d "/proc/$p" ] && grep -q "$DIR/bin/crio" "/proc/$p/cmdline" 2>/dev/null; }
answers() { "$DIR/bin/crio" --config "$DIR/crio.conf" --config-dir "$DIR/conf.d" status --socket "$SOCK" info >/dev/null 2>&1; }

# The variant asked for, as one comparable text.
variant() {
  local f
  echo "hide_subids=${HIDE_SUBIDS:-0}"
  while IFS= read -r f; do
    [ -n "$f" ] || continue
    echo "conf=$(basename "$f") $(cksum < "$f" | cut -d' ' -f1)"
  done <<< "${CRIO_CONF:-}"
}

# Replaces the node's managed drop-ins with the ones asked for.
install_dropins() {
  local f n=0
  rm -f "$DIR"/conf.d/90-userns-e2e-*.conf
  while IFS= read -r f; do
    [ -n "$f" ] || continue
    n=$((n + 1))
    cp "$f" "$DIR/conf.d/90-userns-e2e-$n-$(basename "$f" .conf).conf"
    log "CRI-O config drop-in: $f"
  done <<< "${CRIO_CONF:-}"
}

# Copies of /etc/subuid and /etc/subgid without `containers`, for HIDE_SUBIDS.
write_hidden_subids() {
  local f
  mkdir -p "$DIR/etc"
  for f in subuid subgid; do
    grep -v '^containers:' "/etc/$f" > "$DIR/etc/$f" 2>/dev/null || true
  done
  log "crio sees /etc/subuid and /etc/subgid without 'containers' (bound over them in its own mount namespace; the host's files are untouched)"
}

# The `containers` subordinate ids `auto` needs; added only when absent, and recorded.
ensure_subids() {
  local f line need=0 start=200000 count=268435456 end
  for f in /etc/subuid /etc/subgid; do
    grep -q '^containers:' "$f" 2>/dev/null || need=1
  done
  [ "$need" = 1 ] || return 0
  # Start after every range already given out, so the new one overlaps none.
  end=$(cat /etc/subuid /etc/subgid 2>/dev/null | awk -F: 'NF == 3 && $2 + $3 > m {m = $2 + $3} END {print m + 0}')
  [ "$end" -gt "$start" ] && start=$(( (end + 65535) / 65536 * 65536 ))
  line="containers:$start:$count"
  for f in /etc/subuid /etc/subgid; do
    if ! grep -q '^containers:' "$f" 2>/dev/null; then
      printf '%s\n' "$line" >> "$f"
      printf '%s %s\n' "$f" "$line" >> "$SUBIDS_MARKER"
      echo "crio-node: added '$line' to $f (CRI-O's userns auto mode needs subordinate ids for 'containers'; 'node stop --purge' removes it)" >&2
    fi
  done
}

remove_subids() {
  [ -f "$SUBIDS_MARKER" ] || return 0
  local f line tmp
  while read -r f line; do
    [ -f "$f" ] || continue
    tmp=$(mktemp)
    grep -vxF -- "$line" "$f" > "$tmp" || true
    cat "$tmp" > "$f"   # keeps the file's owner and mode
    rm -f "$tmp"
    echo "crio-node: removed '$line' from $f (the node had added it)" >&2
  done < "$SUBIDS_MARKER"
  rm -f "$SUBIDS_MARKER"
}

write_config() {
  local v minor ann runtime
  v=$(cat "$DIR/bin/VERSION")
  minor=$(echo "$v" | cut -d. -f2)
  # allowed_annotations refuses keys a version does not know: the new key exists from 1.35.0.
  ann='"io.kubernetes.cri-o.userns-mode"'
  [ "$minor" -ge 35 ] && ann="$ann, \"userns-mode.crio.io\""
  runtime=crun
  if [ ! -x "$RT/bin/crun" ]; then
    runtime=runc
  elif hybrid_cgroups; then
    runtime=runc
    log "using runc: this host has hybrid cgroups whose cgroup2 hierarchy owns controllers ($(tr '\n' ' ' < /sys/fs/cgroup/unified/cgroup.controllers)), where crun refuses every container"
  fi
  mkdir -p "$DIR"/{storage,run/storage,run/runc,run/crun,run/exits,run/ns,pod-logs,conf.d}
  write_cni "userns-e2e-crio"
  echo '{"default": [{"type": "insecureAcceptAnything"}]}' > "$DIR/policy.json"
  local handlers="" h
  for h in runc crun; do
    [ "$h" = crun ] && [ "$runtime" != crun ] && continue
    handlers+="
[crio.runtime.runtimes.$h]
runtime_path = \"$RT/bin/$h\"
runtime_root = \"$DIR/run/$h\"
monitor_path = \"$RT/bin/conmon\"
allowed_annotations = [$ann]
"
  done
  # A handler that allows no annotation (runtimeClassName: userns-e2e-no-annotations), for the
  # scenario showing CRI-O drops the userns-mode annotation where it is not allowed.
  handlers+="
[crio.runtime.runtimes.userns-e2e-no-annotations]
runtime_path = \"$RT/bin/$runtime\"
runtime_root = \"$DIR/run/$runtime\"
monitor_path = \"$RT/bin/conmon\"
"
  cat > "$DIR/crio.conf" <<C
# Written by userns-e2e (clusters/local/crio.sh) for CRI-O $v; rewritten on every start.
[crio]
root = "$DIR/storage"
runroot = "$DIR/run/storage"
storage_driver = "overlay"
log_dir = "$DIR/pod-logs"
version_file = "$DIR/run/version"
version_file_persist = "$DIR/version"
clean_shutdown_file = "$DIR/clean.shutdown"

[crio.api]
listen = "$SOCK"
stream_address = "127.0.0.1"
stream_port = "0"

[crio.runtime]
default_runtime = "$runtime"
cgroup_manager = "cgroupfs"
conmon_cgroup = "pod"
log_level = "info"
pinns_path = "$DIR/bin/pinns"
namespaces_dir = "$DIR/run/ns"
container_exits_dir = "$DIR/run/exits"
container_attach_socket_dir = "$DIR/run"
hooks_dir = []
irqbalance_config_file = ""
irqbalance_config_restore_file = "disable"
$handlers
[crio.image]
pause_image = "docker.io/library/pause:latest"
pause_command = ""
signature_policy = "$DIR/policy.json"

[crio.network]
network_dir = "$DIR/cni/net.d"
plugin_dirs = ["$(cat "$RT/cni-dir" 2>/dev/null || echo /usr/lib/cni)"]

[crio.nri]
enable_nri = false
C
  printf '[storage]\ndriver = "overlay"\ngraphroot = "%s"\nrunroot = "%s"\n' "$DIR/storage" "$DIR/run/storage" > "$DIR/storage.conf"
  echo "$runtime" > "$DIR/run/runtime"
}

# Copies the test images into CRI-O's storage (once per storage).
load_images() {
  local done=$DIR/storage/.userns-e2e-images want name
  want=$(cat "$DIR"/img/busybox/index.json "$DIR"/img/pause/index.json | cksum)
  [ "$(cat "$done" 2>/dev/null)" = "$want" ] && return 0
  for name in busybox pause; do
    CONTAINERS_STORAGE_CONF=$DIR/storage.conf skopeo --policy "$DIR/policy.json" copy --quiet \
      "oci:$DIR/img/$name" "containers-storage:[overlay@$DIR/storage+$DIR/run/storage]docker.io/library/$name:latest" >&2 \
      || die "skopeo could not copy the $name image into $DIR/storage"
  done
  echo "$want" > "$done"
}

start() {
  [ "$(id -u)" = 0 ] || die "starting the node needs root"
  if [ -n "$ARG" ]; then
    provision
  elif [ ! -f "$MARKER" ] || [ ! -x "$DIR/bin/crio" ]; then
    die "$DIR holds no provisioned CRI-O node: give the crio to use (--crio PATH)"
  fi
  local want
  want=$(variant)
  if running && answers; then
    if [ "${VARIANT_SET:-0}" = 1 ] && [ "$want" != "$(cat "$DIR/run/variant" 2>/dev/null)" ]; then
      die "the CRI-O in $DIR runs with another configuration ($(paste -sd' ' "$DIR/run/variant" 2>/dev/null)); stop it first (userns-e2e node stop --runtime cri-o --node-dir $DIR)"
    fi
    echo "unix://$SOCK"; return 0
  fi
  if [ -S "$SOCK" ] && ! running; then
    # A socket answering without our pid: another crio uses this folder.
    if answers; then die "$SOCK is in use by a crio this node did not start; stop that crio, or use another --node-dir"; fi
    rm -f "$SOCK"
  fi
  local f
  while IFS= read -r f; do
    [ -z "$f" ] || [ -r "$f" ] || die "--crio-conf $f is not a readable file"
  done <<< "${CRIO_CONF:-}"
  local crio=("$DIR/bin/crio" --config "$DIR/crio.conf" --config-dir "$DIR/conf.d")
  if [ "${HIDE_SUBIDS:-0}" = 1 ]; then
    write_hidden_subids
    # exec keeps one pid from unshare to crio, so crio.pid is crio's.
    crio=(unshare --mount --propagation slave -- /bin/sh -c \
      'mount --bind "$1/etc/subuid" /etc/subuid && mount --bind "$1/etc/subgid" /etc/subgid && shift && exec "$@"' \
      sh "$DIR" "${crio[@]}")
  else
    ensure_subids
  fi
  write_config
  install_dropins
  echo "$want" > "$DIR/run/variant"
  local t0 p
  t0=$(date +%s%N)
  PATH=$RT/bin:/usr/sbin:/usr/bin:/sbin:/bin CONTAINERS_STORAGE_CONF=$DIR/storage.conf TMPDIR=$DIR/run \
    setsid "${crio[@]}" >"$DIR/crio.log" 2>&1 </dev/null &
  p=$!
  echo "$p" > "$DIR/crio.pid"
  for _ in $(seq 600); do
    answers && break
    if ! [ -d "/proc/$p" ]; then
      tail -n 15 "$DIR/crio.log" >&2
      die "crio exited while starting (log above, whole log: $DIR/crio.log)"
    fi
    sleep 0.05
  done
  answers || { tail -n 15 "$DIR/crio.log" >&2; die "crio did not answer on $SOCK within 30s (log: $DIR/crio.log)"; }
  log "CRI-O $(cat "$DIR/bin/VERSION") ($(cat "$DIR/run/runtime")) answered after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
  load_images
  echo "unix://$SOCK"
}

stop() {
  local r p
  # Containers first (CRI-O leaves them running when it stops), through the runtime's own state.
  for r in runc crun; do
    [ -d "$DIR/run/$r" ] && [ -x "$RT/bin/$r" ] || continue
    for c in $("$RT/bin/$r" --root "$DIR/run/$r" list -q 2>/dev/null || true); do
      "$RT/bin/$r" --root "$DIR/run/$r" kill "$c" KILL >/dev/null 2>&1 || true
      "$RT/bin/$r" --root "$DIR/run/$r" delete -f "$c" >/dev/null 2>&1 || true
    done
  done
  if running; then
    p=$(pid_of)
    kill -TERM "$p" 2>/dev/null || true
    for _ in $(seq 200); do [ -d "/proc/$p" ] || break; sleep 0.05; done
    kill -KILL "$p" 2>/dev/null || true
  fi
  rm -f "$DIR/crio.pid"
  # conmon (and a crio that lost its pid file): processes running a binary of this folder.
  for p in $(pgrep -f -- "^$DIR/(bin|runtime/bin)/" 2>/dev/null || true); do
    kill -KILL "$p" 2>/dev/null || true
  done
  # Mounts under DIR (container rootfs, shm, the pinned namespaces in run/ns), deepest first.
  unmount_under
  rm -rf "$DIR/run/ns"
  remove_bridge
  if [ "$ARG" = --purge ]; then
    if awk -v d="$DIR/" 'index($5, d) == 1 {found = 1} END {exit !found}' /proc/self/mountinfo; then
      die "mounts remain under $DIR; not deleting it"
    fi
    remove_subids
    rm -rf "$DIR"
    log "purged $DIR"
  fi
  return 0
}

status() {
  status_head
  [ -f "$DIR/bin/VERSION" ] && echo "crio=$(cat "$DIR/bin/VERSION")"
  [ -f "$DIR/bin/ORIGIN" ] && echo "origin=$(cat "$DIR/bin/ORIGIN")"
  [ -f "$MARKER" ] && cat "$MARKER"
  [ -f "$DIR/run/runtime" ] && echo "runtime=$(cat "$DIR/run/runtime")"
  [ -f "$SUBIDS_MARKER" ] && echo "subids_added=$(awk '{print $1 "=" $2}' "$SUBIDS_MARKER" | paste -sd,)"
  if running && [ -f "$DIR/run/variant" ]; then
    grep -q '^hide_subids=1' "$DIR/run/variant" && echo "subids=hidden"
    local d
    d=$(sed -n 's/^conf=\([^ ]*\) .*/\1/p' "$DIR/run/variant" | paste -sd,)
    [ -n "$d" ] && echo "dropins=$d"
  fi
  running
}

case $cmd in
  provision) provision ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) die "unknown command $cmd (provision|start|stop|status)" ;;
esac
