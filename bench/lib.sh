# shellcheck shell=bash
# Shared helpers for bench/run.sh and bench/memory.sh: tool installation,
# per-server config files, starting/stopping servers, CPU accounting.
# Source it; it does nothing on its own.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$BENCH_DIR/.." && pwd)
OUT=$BENCH_DIR/out
# DNSLB_BIN set by the caller means "use this binary, don't build" (e.g. to
# compare two versions); otherwise the scripts build it here.
DNSLB_PREBUILT=${DNSLB_BIN:+1}
DNSLB_BIN=${DNSLB_BIN:-$OUT/dnslb}
CLK_TCK=$(getconf CLK_TCK)

# Each server gets its own fixed loopback port so a leftover process from one
# server can never answer for another. The default sits below the kernel's
# ephemeral range and away from the 5353/153xx ports tests like to use.
BASE_PORT=${BASE_PORT:-25350}
declare -A PORT=([dnslb]=$((BASE_PORT + 1)) [nsd]=$((BASE_PORT + 2)) [knot]=$((BASE_PORT + 3)) [gdnsd]=$((BASE_PORT + 4)) [sink]=$((BASE_PORT + 5)))

# CPU pinning: server on one core, load generator on the other, so that
# they do not steal cycles from each other. Falls back to no pinning on a
# one-core machine (then the numbers mean much less).
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
warn() { log "WARNING: $*"; }
die() {
	log "ERROR: $*"
	exit 1
}

# pin_cmd CPU sets PIN to the command prefix that pins to CPU (empty on a
# one-core machine). A prefix array rather than a wrapper function, so that
# "${PIN[@]}" cmd & leaves $! pointing at the real process (taskset execs).
pin_cmd() {
	PIN=()
	if [[ $(nproc) -ge 2 ]]; then
		PIN=(taskset -c "$1")
	fi
}

# ensure_tools installs the load generator and the peer servers when any is
# missing. apt-get update runs only when something has to be installed.
ensure_tools() {
	local -A pkg_for=([dnsperf]=dnsperf [nsd]=nsd [knotd]=knot [gdnsd]=gdnsd [dig]=bind9-dnsutils [taskset]=util-linux)
	local missing=() cmd
	for cmd in "${!pkg_for[@]}"; do
		command -v "$cmd" >/dev/null 2>&1 || missing+=("${pkg_for[$cmd]}")
	done
	[[ ${#missing[@]} -eq 0 ]] && return 0
	[[ $(id -u) -eq 0 ]] || die "missing packages (${missing[*]}); run as root or install them"
	log "installing ${missing[*]}"
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
}

# build_dnslb builds the binary into $DNSLB_BIN. Returns 1 (with a warning)
# when the tree does not build yet, so callers can skip dnslb.
build_dnslb() {
	mkdir -p "$OUT"
	if [[ -n $DNSLB_PREBUILT ]]; then
		[[ -x $DNSLB_BIN ]] && return 0
		warn "DNSLB_BIN=$DNSLB_BIN is not an executable; skipping dnslb"
		return 1
	fi
	if ! (cd "$REPO_ROOT" && go build -o "$DNSLB_BIN" ./cmd/dnslb) >"$OUT/dnslb-build.log" 2>&1; then
		warn "cmd/dnslb does not build (see $OUT/dnslb-build.log); skipping dnslb"
		return 1
	fi
}

# genzone DIR ARGS... writes the zone into DIR/zone and queries into DIR.
genzone() {
	local dir=$1
	shift
	(cd "$REPO_ROOT" && go run ./bench/genzone -out "$dir/zone" -query-out "$dir" "$@")
}

# write_config SERVER BASE ZONEFILE writes SERVER's config into BASE
# (BASE/dnslb.toml, BASE/nsd.conf, BASE/knot.conf, BASE/gdnsd/config) and
# makes a fresh state directory BASE/state/SERVER for its pid files, sockets,
# databases and log. Every server gets one worker thread per protocol: they
# all run on a single pinned core, where more threads only add contention.
write_config() {
	local server=$1 base=$2 zonefile=$3 port=${PORT[$1]}
	local dir=$base/state/$server
	rm -rf "$dir"
	mkdir -p "$dir"
	case $server in
	dnslb)
		# zone_dir: every *.zone file in it is a zone named by its file name.
		cat >"$base/dnslb.toml" <<-EOF
			zone_dir = "$(dirname "$zonefile")"

			[server]
			listen = ["127.0.0.1:$port"]

			[log]
			level = "warn"
		EOF
		dnslb_policy >>"$base/dnslb.toml"
		;;
	nsd)
		# No chroot, no privilege drop, no database: files stay in $dir.
		cat >"$base/nsd.conf" <<-EOF
			server:
			    ip-address: 127.0.0.1@$port
			    server-count: 1
			    username: ""
			    chroot: ""
			    database: ""
			    zonesdir: "$dir"
			    zonelistfile: "$dir/zone.list"
			    xfrdfile: "$dir/xfrd.state"
			    xfrdir: "$dir"
			    pidfile: "$dir/nsd.pid"
			    logfile: "$dir/nsd.log"
			    verbosity: 0
			    hide-version: yes
			    # Debian builds NSD with response rate limiting on by default
			    # (200 qps per /24), which would drop most benchmark queries.
			    rrl-ratelimit: 0
			    rrl-whitelist-ratelimit: 0
			remote-control:
			    control-enable: no
			zone:
			    name: bench.example
			    zonefile: "$zonefile"
		EOF
		;;
	knot)
		# journal-content none and zonefile-sync -1: knotd only reads the file.
		mkdir -p "$dir/db"
		cat >"$base/knot.conf" <<-EOF
			server:
			    rundir: "$dir"
			    listen: 127.0.0.1@$port
			    udp-workers: 1
			    tcp-workers: 1
			    background-workers: 1
			control:
			    listen: "$dir/knot.sock"
			database:
			    storage: "$dir/db"
			log:
			  - target: stderr
			    any: warning
			template:
			  - id: default
			    storage: "$dir"
			    semantic-checks: off
			    zonefile-sync: -1
			    zonefile-load: whole
			    journal-content: none
			zone:
			  - domain: bench.example
			    file: "$zonefile"
		EOF
		;;
	gdnsd)
		# gdnsd reads zones from <config dir>/zones/<zone name>; plain zone
		# data, no plugins (geoip is left out on purpose, see README).
		rm -rf "$base/gdnsd"
		mkdir -p "$base/gdnsd/zones" "$dir/run" "$dir/state"
		cp "$zonefile" "$base/gdnsd/zones/bench.example"
		cat >"$base/gdnsd/config" <<-EOF
			options => {
			  listen => [ "127.0.0.1:$port" ]
			  run_dir => "$dir/run"
			  state_dir => "$dir/state"
			  udp_threads => 1
			  tcp_threads => 1
			}
		EOF
		;;
	*) die "unknown server $server" ;;
	esac
}

# dnslb_policy prints the per-name policy tables that DNSLB_POLICY asks for
# (empty: none, a static zone). NAMES must match the generated zone.
#   health: every host name h<N> gets one TCP check whose target is the
#   tcpsink started by start_sink, so checks pass and the network stays on
#   loopback. dnslb probes once per address (6 per name) even with a shared
#   target, so HEALTH_INTERVAL (default 60s) keeps that to 6*NAMES/60 =
#   1,000 connects per second at 10,000 names. HEALTH_NAMES checks only
#   h0..h<HEALTH_NAMES-1> instead of every name.
dnslb_policy() {
	case ${DNSLB_POLICY:-} in
	'') ;;
	health)
		printf '\n[healthcheck.bench]\ntype = "tcp"\ntarget = "127.0.0.1:%s"\ninterval = "%s"\ntimeout = "1s"\n' "${PORT[sink]}" "${HEALTH_INTERVAL:-60s}"
		awk -v n="${HEALTH_NAMES:-$NAMES}" 'BEGIN { for (i = 0; i < n; i++) printf "\n[name.\"h%d.bench.example\"]\ncheck = \"bench\"\n", i }'
		;;
	*) die "unknown DNSLB_POLICY $DNSLB_POLICY" ;;
	esac
}

# STARTED holds the PIDs of every server this script started; cleanup stops
# them, so no server outlives the script.
STARTED=()

# start_server SERVER BASE starts SERVER with the config write_config put
# in BASE, pinned to $SERVER_CPU, in each daemon's foreground mode (so $! is
# the daemon itself), and sets SERVER_PID. Output goes to
# BASE/state/SERVER/server.log.
start_server() {
	local server=$1 base=$2 cmd
	local dir=$base/state/$server
	case $server in
	dnslb) cmd=("$DNSLB_BIN" serve -config "$base/dnslb.toml") ;;
	nsd) cmd=(nsd -d -c "$base/nsd.conf") ;;
	knot) cmd=(knotd -c "$base/knot.conf") ;;
	gdnsd) cmd=(gdnsd -c "$base/gdnsd" start) ;;
	esac
	pin_cmd "$SERVER_CPU"
	"${PIN[@]}" "${cmd[@]}" >"$dir/server.log" 2>&1 &
	SERVER_PID=$!
	STARTED+=("$SERVER_PID")
}

# port_busy PORT succeeds when anything already listens on PORT (UDP or
# TCP): a server started there would fail to bind, or worse, the readiness
# check and dnsperf would talk to someone else's server.
port_busy() {
	[[ -n $(ss -Hlnu "sport = :$1"; ss -Hlnt "sport = :$1") ]]
}

# start_sink builds and starts bench/tcpsink on PORT[sink], pinned with the
# load generator so that accepting probes costs the server under test
# nothing, and sets SINK_PID.
start_sink() {
	local deadline=$((SECONDS + 30))
	(cd "$REPO_ROOT" && go build -o "$OUT/tcpsink" ./bench/tcpsink)
	pin_cmd "$CLIENT_CPU"
	"${PIN[@]}" "$OUT/tcpsink" -listen "127.0.0.1:${PORT[sink]}" &
	SINK_PID=$!
	STARTED+=("$SINK_PID")
	until port_busy "${PORT[sink]}"; do
		((SECONDS < deadline)) && kill -0 "$SINK_PID" 2>/dev/null || die "tcpsink did not start"
		sleep 0.1
	done
}

# wait_ready PORT PID TIMEOUT_S polls for an SOA answer. Fails when the
# process dies or TIMEOUT_S passes.
wait_ready() {
	local port=$1 pid=$2 timeout=$3 deadline
	deadline=$((SECONDS + timeout))
	while ((SECONDS < deadline)); do
		kill -0 "$pid" 2>/dev/null || return 1
		# Match the SOA record itself: dig prints its errors on stdout too.
		if dig +noall +answer +time=1 +tries=1 -p "$port" @127.0.0.1 bench.example SOA 2>/dev/null | grep -q 'IN[[:space:]]SOA'; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# tree_pids PID prints PID and all its descendants (nsd forks workers).
tree_pids() {
	local child
	echo "$1"
	for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do
		tree_pids "$child"
	done
}

# cpu_ticks PID prints utime+stime, in clock ticks, summed over the process
# tree. /proc/PID/stat already sums all threads of a process.
cpu_ticks() {
	local total=0 pid stat
	for pid in $(tree_pids "$1"); do
		stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
		# Drop "pid (comm) " first: comm may contain spaces.
		stat=${stat##*) }
		read -r -a f <<<"$stat"
		total=$((total + f[11] + f[12])) # fields 14 and 15 of stat(5)
	done
	echo "$total"
}

# busy_ticks prints the clock ticks all CPUs have spent busy since boot
# (user, nice, system, irq, softirq, steal; not idle or iowait).
busy_ticks() {
	awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat
}

# stop_server PID stops one server and its children: SIGTERM, then SIGKILL
# after 5 s.
stop_server() {
	local pid=$1 pids i
	pids=$(tree_pids "$pid")
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	# shellcheck disable=SC2086 # word splitting of the PID list is wanted
	kill -KILL $pids 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

cleanup() {
	local pid
	for pid in "${STARTED[@]}"; do
		stop_server "$pid"
	done
	STARTED=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM
