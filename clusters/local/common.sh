# Shared by node.sh (containerd) and crio.sh (CRI-O): sourced, not run.
# The caller sets DIR (the node folder, absolute) and LOG (its log prefix).

log() { echo "$LOG: $*" >&2; }
die() { echo "$LOG: error: $*" >&2; exit 1; }

version_at_least() { # have want
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -1)" = "$2" ]
}

# A bridge name (at most 15 characters) and subnet derived from DIR, so nodes
# in different folders can run side by side.
node_network() {
  local hash
  hash=$(printf '%s' "$DIR" | cksum | cut -d' ' -f1)
  BRIDGE=une2e$(printf '%x' $((hash % 1048576)))
  SUBNET=10.$((100 + hash % 100)).$(( (hash / 100) % 250 )).0/24
}

# A CNI bridge network for the node (conflist in $DIR/cni/net.d), and its
# bridge made before the runtime starts.
write_cni() { # network-name
  mkdir -p "$DIR"/cni/net.d "$DIR"/cni/ipam
  cat > "$DIR/cni/net.d/10-userns-e2e.conflist" <<N
{"cniVersion": "1.0.0", "name": "$1", "plugins": [{"type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": false,
 "ipam": {"type": "host-local", "dataDir": "$DIR/cni/ipam", "ranges": [[{"subnet": "$SUBNET"}]], "routes": [{"dst": "0.0.0.0/0"}]}}]}
N
  ensure_bridge
}

# The bridge with an address of its own. One the bridge plugin creates has
# none, so the kernel gives it the lowest address of its ports, which changes
# as pods come and go (an address set by hand is kept: torvalds/linux
# net/bridge/br_stp_if.c, br_stp_recalculate_bridge_id); the plugin's CHECK,
# which CRI-O runs for a new sandbox's network status, then fails "Bridge
# interface ... Mac doesn't match" (containernetworking/plugins
# plugins/main/bridge/bridge.go, validateCniBrInterface) when pods start in
# parallel. The plugin adopts an existing bridge.
ensure_bridge() {
  ip link show "$BRIDGE" >/dev/null 2>&1 && return 0
  local mac
  mac=$(printf '%s' "$DIR" | sha256sum | sed 's/^\(..\)\(..\)\(..\)\(..\)\(..\).*/02:\1:\2:\3:\4:\5/')
  ip link add "$BRIDGE" type bridge
  ip link set "$BRIDGE" address "$mac"
  ip link set "$BRIDGE" up
}

# Debian packages the node needs on the host itself (installed when missing).
host_packages() { # package...
  local missing=() p
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || die "missing packages ${missing[*]}: run as root or apt-get install them"
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -q "${missing[@]}" >/dev/null; }
}

# A private apt view of Debian's newer suites on the mirror this machine is
# configured with (no mirror host is written here); sets APT_OPTS.
apt_view() {
  local uri key=/usr/share/keyrings/debian-archive-keyring.gpg
  uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$uri" ] || uri=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  [ -n "$uri" ] || die "cannot find the Debian mirror in /etc/apt (sources.list.d/debian.sources or sources.list)"
  mkdir -p "$DIR"/apt/lists/partial "$DIR"/apt/cache
  printf 'deb [signed-by=%s] %s %s main\n' "$key" "$uri" forky "$key" "$uri" sid > "$DIR"/apt/sources.list
  APT_OPTS=(-oDir::Etc::SourceList="$DIR"/apt/sources.list -oDir::Etc::SourceParts=/dev/null
            -oDir::State::Lists="$DIR"/apt/lists -oDir::Cache="$DIR"/apt/cache -oAPT::Sandbox::User=root)
}

# Points a binary at a private library folder (a newer glibc than the host's).
patch_private() { # binary libdir
  patchelf --set-interpreter "$2/ld-linux-x86-64.so.2" --force-rpath --set-rpath "$2" "$1"
  if ldd "$1" 2>/dev/null | grep -q 'not found'; then
    ldd "$1" | grep 'not found' >&2
    die "$(basename "$1") misses libraries after patching"
  fi
}

# Lazily unmounts everything mounted under DIR, deepest first.
unmount_under() {
  awk -v d="$DIR/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
}

remove_bridge() {
  if ip link show "$BRIDGE" >/dev/null 2>&1; then ip link delete "$BRIDGE" 2>/dev/null || true; fi
}

# The first lines of `status` (the caller defines running and pid_of).
status_head() {
  if running; then
    echo "state=running"; echo "pid=$(pid_of)"
  else
    echo "state=stopped"
  fi
  echo "socket=unix://$SOCK"; echo "dir=$DIR"; echo "bridge=$BRIDGE"
}
