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
declare -A PORT=([dnslb]=$((BASE_PORT + 1)) [nsd]=$((BASE_PORT + 2)) [knot]=$((BASE_PORT + 3)) [gdnsd]=$((BASE_PORT + 4)) [sink]=$((BASE_PORT + 5)) [admin]=$((BASE_PORT + 6)))

# The GeoIP database of the geo-ecs scenario: documentation ranges only
# (192.0.2.0/25 DE, 192.0.2.128/25 US, 198.51.100.0/24 JP, 203.0.113.0/26 AU).
GEO_DB=${GEO_DB:-$REPO_ROOT/dnslb/testdata/geo/city.mmdb}

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

			[admin]
			listen = "127.0.0.1:${PORT[admin]}"
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
		# gdnsd reads zones from <config dir>/zones/<zone name>. With
		# DNSLB_POLICY geo or health, the policy names become DYNA records
		# (see gdnsd_policy); otherwise plain zone data.
		rm -rf "$base/gdnsd"
		mkdir -p "$base/gdnsd/zones" "$dir/run" "$dir/state"
		gdnsd_zone "$zonefile" >"$base/gdnsd/zones/bench.example"
		cat >"$base/gdnsd/config" <<-EOF
			options => {
			  listen => [ "127.0.0.1:$port" ]
			  run_dir => "$dir/run"
			  state_dir => "$dir/state"
			  udp_threads => 1
			  tcp_threads => 1
			}
		EOF
		gdnsd_policy >>"$base/gdnsd/config"
		;;
	*) die "unknown server $server" ;;
	esac
}

# policy_names prints how many host names (h0..h<N-1>) the policy covers:
# GEO_NAMES (geo) or HEALTH_NAMES (health), default every name (NAMES).
# With fewer, run.sh sends the policy scenarios' queries to these names
# only (policy_queries).
policy_names() {
	local n
	case ${DNSLB_POLICY:-} in
	geo) n=${GEO_NAMES:-$NAMES} ;;
	health) n=${HEALTH_NAMES:-$NAMES} ;;
	*) n=0 ;;
	esac
	echo $((n < NAMES ? n : NAMES))
}

# policy_queries IN OUT writes IN with every host name h<N> replaced by
# h<N mod policy_names>, so all A/AAAA hits land on policy names; the
# misses, referrals and apex queries stay as they are.
policy_queries() {
	awk -v n="$(policy_names)" '$1 ~ /^h[0-9]+\.bench\.example$/ { split($1, p, "."); $1 = "h" (substr(p[1], 2) % n) ".bench.example" } { print }' "$1" >"$2"
}

# host_addrs is an awk function that fills a[1..4] with the A records and
# a[5..6] with the AAAA records genzone writes for h<i>. Keep in step with
# writeZone in genzone/main.go.
HOST_ADDRS_AWK='
function host_addrs(i, a,   x, y, p) {
	x = i % 254 + 1; y = (i + 127) % 254 + 1
	p = sprintf("2001:db8:%x:%x::", int(i / 65536), i % 65536)
	a[1] = "192.0.2." x; a[2] = "198.51.100." x; a[3] = "203.0.113." x; a[4] = "192.0.2." y
	a[5] = p "1"; a[6] = p "2"
}'

# dnslb_policy prints the per-name policy tables that DNSLB_POLICY asks for
# (empty: none, a static zone). NAMES must match the generated zone.
#   geo: h0..h<GEO_NAMES-1> get select = "geo" over GEO_DB with four groups
#   of one A and one AAAA each and a default group of all six:
#   continent:EU -> eu (192.0.2.x), country:US -> na (the other 192.0.2
#   address), country:JP -> as (198.51.100.x), continent:OC -> oc
#   (203.0.113.x); clients no rule matches get global. gdnsd_policy builds
#   the same map for gdnsd.
#   health: every host name h<N> (or the first HEALTH_NAMES) gets one TCP
#   check whose explicit target is the tcpsink started by start_sink, so
#   checks pass and the network stays on loopback. With an explicit target
#   dnslb probes the target once per interval, however many names and
#   addresses share the check (one probe target in all).
dnslb_policy() {
	case ${DNSLB_POLICY:-} in
	'') ;;
	geo)
		printf '\n[geoip]\nfiles = ["%s"]\n' "$GEO_DB"
		awk -v n="$(policy_names)" "$HOST_ADDRS_AWK"'
		BEGIN {
			split("eu na as oc", g, " "); split("1 4 2 3", ai, " "); split("5 6 5 6", bi, " ")
			split("continent:EU country:US country:JP continent:OC", rule, " ")
			for (i = 0; i < n; i++) {
				host_addrs(i, a)
				t = sprintf("name.\"h%d.bench.example\"", i)
				printf "\n[%s]\nselect = \"geo\"\ndefault = \"global\"\n", t
				for (k = 1; k <= 4; k++)
					printf "[%s.groups.%s]\naddresses = [\"%s\", \"%s\"]\n", t, g[k], a[ai[k]], a[bi[k]]
				printf "[%s.groups.global]\naddresses = [\"%s\", \"%s\", \"%s\", \"%s\", \"%s\", \"%s\"]\n", t, a[1], a[2], a[3], a[4], a[5], a[6]
				for (k = 1; k <= 4; k++)
					printf "[[%s.rules]]\nmatch = [\"%s\"]\ngroup = \"%s\"\n", t, rule[k], g[k]
			}
		}'
		;;
	health)
		printf '\n[healthcheck.bench]\ntype = "tcp"\ntarget = "127.0.0.1:%s"\ninterval = "%s"\ntimeout = "1s"\n' "${PORT[sink]}" "${HEALTH_INTERVAL:-10s}"
		awk -v n="$(policy_names)" 'BEGIN { for (i = 0; i < n; i++) printf "\n[name.\"h%d.bench.example\"]\ncheck = \"bench\"\n", i }'
		;;
	*) die "unknown DNSLB_POLICY $DNSLB_POLICY" ;;
	esac
}

# gdnsd_zone ZONEFILE prints the zone for gdnsd: with a policy, the A/AAAA
# records of the policy names are replaced by one DYNA record each
# (geoip!h<N> or multifo!h<N>).
gdnsd_zone() {
	local plugin=
	case ${DNSLB_POLICY:-} in
	geo) plugin=geoip ;;
	health) plugin=multifo ;;
	esac
	if [[ -z $plugin ]]; then
		cat "$1"
		return
	fi
	awk -v n="$(policy_names)" -v plugin="$plugin" '
		$1 ~ /^h[0-9]+$/ && ($3 == "A" || $3 == "AAAA") && substr($1, 2) + 0 < n {
			if (!done[$1]++) printf "%s 300 DYNA %s!%s\n", $1, plugin, $1
			next
		}
		{ print }' "$1"
}

# gdnsd_policy prints gdnsd's plugin config for DNSLB_POLICY.
#   geo: the geoip plugin with one map over GEO_DB equivalent to
#   dnslb_policy's rules (EU -> eu, US -> na, JP -> as, OC -> oc, anything
#   else -> global; each falls back to global) and one resource per name
#   whose datacenters hold the same addresses as dnslb's groups. No
#   monitoring (service_types up), as in dnslb's geo config.
#   health: the multifo plugin, one resource per name with its 4 A and 2
#   AAAA records. The A records are monitored by an extmon service type
#   that TCP-connects to the tcpsink. gdnsd monitors each distinct address
#   and has no explicit target (its tcp_connect plugin would connect to the
#   documentation addresses themselves, off loopback), so the command
#   ignores the address and connects to the sink: every probe stays on
#   loopback. The A records repeat across names, so that is at most 762
#   monitored addresses; the AAAA records are unique per name (20,000 at
#   10,000 names, one fork each per interval), so they are served by
#   multifo with the static monitor "up" instead.
gdnsd_policy() {
	case ${DNSLB_POLICY:-} in
	'') ;;
	geo)
		printf 'plugins => { geoip => {\n  service_types => up\n  maps => { bench => {\n'
		printf '    geoip2_db => "%s"\n    datacenters => [eu, na, as, oc, global]\n' "$GEO_DB"
		printf '    map => {\n      default => [global]\n      EU => [eu, global]\n'
		printf '      NA => { default => [global], US => [na, global] }\n'
		printf '      AS => { default => [global], JP => [as, global] }\n'
		printf '      OC => [oc, global]\n    }\n  }}\n  resources => {\n'
		awk -v n="$(policy_names)" "$HOST_ADDRS_AWK"'
		BEGIN {
			split("eu na as oc", g, " "); split("1 4 2 3", ai, " "); split("5 6 5 6", bi, " ")
			for (i = 0; i < n; i++) {
				host_addrs(i, a)
				printf "    h%d => { map => bench, dcmap => {", i
				for (k = 1; k <= 4; k++)
					printf " %s => { addrs_v4 => [%s], addrs_v6 => [%s] },", g[k], a[ai[k]], a[bi[k]]
				printf " global => { addrs_v4 => [%s, %s, %s, %s], addrs_v6 => [%s, %s] } } }\n", a[1], a[2], a[3], a[4], a[5], a[6]
			}
		}'
		printf '  }\n}}\n'
		;;
	health)
		local interval=${HEALTH_INTERVAL:-10s}
		printf 'service_types => { bench => {\n  plugin => extmon\n  interval => %d\n  timeout => 1\n' "${interval%s}"
		printf '  cmd => ["/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/%s"]\n}}\n' "${PORT[sink]}"
		printf 'plugins => { multifo => {\n  service_types => bench\n'
		awk -v n="$(policy_names)" "$HOST_ADDRS_AWK"'
		BEGIN {
			for (i = 0; i < n; i++) {
				host_addrs(i, a)
				printf "  h%d => { addrs_v4 => [%s, %s, %s, %s], addrs_v6 => { service_types => up, 1 => %s, 2 => %s } }\n", i, a[1], a[2], a[3], a[4], a[5], a[6]
			}
		}'
		printf '}}\n'
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

# cpu_ticks PID prints utime+stime (own and reaped children's), in clock
# ticks, summed over the process tree. /proc/PID/stat already sums all threads of a process.
cpu_ticks() {
	local total=0 pid stat
	for pid in $(tree_pids "$1"); do
		stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
		# Drop "pid (comm) " first: comm may contain spaces.
		stat=${stat##*) }
		read -r -a f <<<"$stat"
		# utime+stime (fields 14, 15 of stat(5)) plus cutime+cstime (16, 17):
		# the short-lived children a process has reaped, e.g. gdnsd's extmon
		# check commands, count too.
		total=$((total + f[11] + f[12] + f[13] + f[14]))
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
