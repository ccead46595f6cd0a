#!/usr/bin/env bash
# Throughput comparison: runs dnsperf against dnslb, NSD, Knot DNS and gdnsd
# serving the same generated zone, and prints medians and dnslb/peer ratios.
# See bench/README.md for what the numbers mean.
#
# Settings (environment variables):
#   ROUNDS=3                 rounds; each round runs every server once
#   DURATION=10              seconds of measured load per run
#   SERVERS="dnslb nsd knot gdnsd"
#   SCENARIOS="static"       any of: static tcp nxdomain geo-ecs health
#   NAMES=10000              host names in the zone (4 A + 2 AAAA each)
#   CLIENTS=4 THREADS=1 OUTSTANDING=100   dnsperf -c, -T, -q
#   MAX_QPS=0                dnsperf -Q; 0 means unlimited (saturation)
#   WARMUP=1                 unmeasured seconds of load before each run
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
SERVERS=${SERVERS:-dnslb nsd knot gdnsd}
SCENARIOS=${SCENARIOS:-static}
NAMES=${NAMES:-10000}
CLIENTS=${CLIENTS:-4}
THREADS=${THREADS:-1}
OUTSTANDING=${OUTSTANDING:-100}
MAX_QPS=${MAX_QPS:-0}
WARMUP=${WARMUP:-1}

# EDNS Client Subnet (RFC 7871, option code 8) for the geo-ecs scenario:
# family 1 (IPv4), source prefix /24, scope 0 (must be 0 in queries),
# address 198.51.100.0 truncated to the 3 bytes the prefix covers.
ECS_OPTION=8:00011800c63364

RESULTS=$OUT/results.txt
RUNS=$OUT/runs.tsv

# prepare builds dnslb, installs missing tools and generates the data set.
# Drops dnslb from SERVERS when it does not build.
prepare() {
	ensure_tools
	mkdir -p "$OUT/runs"
	local servers=()
	for s in $SERVERS; do
		if [[ $s == dnslb ]] && ! build_dnslb; then
			continue
		fi
		servers+=("$s")
	done
	SERVERS="${servers[*]}"
	[[ -n $SERVERS ]] || die "no server to benchmark"
	log "generating zone with $NAMES names"
	genzone "$OUT/data" -names "$NAMES"
}

# scenario_args SCENARIO sets QUERIES and EXTRA (dnsperf arguments) for one
# scenario. Returns 1 for a scenario that cannot run yet.
scenario_args() {
	QUERIES=$OUT/data/queries-mixed.txt
	EXTRA=()
	DNSLB_POLICY=
	SETTLE=0
	case $1 in
	static) ;;
	tcp) EXTRA=(-m tcp) ;;
	nxdomain) QUERIES=$OUT/data/queries-nxdomain.txt ;;
	geo-ecs)
		# Every server runs its static config, so this measures parsing and
		# answering ECS queries, not geo selection. Servers without ECS
		# support ignore the option.
		# TODO(issue 4): give dnslb select = "geo" with cidr rules on every
		# name and gdnsd an equivalent geoip map, now that geo is on main.
		EXTRA=(-E "$ECS_OPTION")
		;;
	health)
		# dnslb checks every host name against an always-up tcpsink (see
		# dnslb_policy in lib.sh); the peers have no health checking
		# configured and serve static data, so the ratio shows what
		# health-aware answering and probing cost dnslb. Targets stay up for
		# the whole run: flapping them is not measured. dnslb probes all its
		# targets in a burst at startup, so wait for the steady state (all
		# servers wait alike).
		DNSLB_POLICY=health
		SETTLE=${HEALTH_SETTLE:-15}
		;;
	*) die "unknown scenario $1 (want static, tcp, nxdomain, geo-ecs or health)" ;;
	esac
}

# run_one SCENARIO SERVER ROUND starts SERVER, loads it with dnsperf for
# DURATION seconds and appends one line to $RUNS.
run_one() {
	local scenario=$1 server=$2 round=$3 port=${PORT[$2]}
	local raw=$OUT/runs/$1-$2-$3.txt
	local args=(-s 127.0.0.1 -p "$port" -d "$QUERIES" -c "$CLIENTS" -T "$THREADS" -q "$OUTSTANDING" "${EXTRA[@]}")
	if ((MAX_QPS > 0)); then args+=(-Q "$MAX_QPS"); fi

	if port_busy "$port"; then
		warn "port $port is already in use; $server skipped this round (set BASE_PORT)"
		return 0
	fi
	if [[ $server == dnslb && $DNSLB_POLICY == health ]]; then
		start_sink
	fi
	write_config "$server" "$OUT" "$OUT/data/zone/bench.example.zone"
	start_server "$server" "$OUT"
	local pid=$SERVER_PID
	if ! wait_ready "$port" "$pid" 30; then
		warn "$server did not answer within 30s; log: $OUT/state/$server/server.log"
		stop_server "$pid"
		return 0
	fi
	if ((SETTLE > 0)); then
		sleep "$SETTLE"
	fi
	pin_cmd "$CLIENT_CPU"
	if ((WARMUP > 0)); then
		timeout $((WARMUP + 30)) "${PIN[@]}" dnsperf "${args[@]}" -l "$WARMUP" >/dev/null 2>&1 || true
	fi

	# Server CPU time, machine-wide busy time and wall time are taken
	# around the same interval: server cpu/wall is the fraction of a core
	# the server used. Whatever the machine did beyond the server and
	# dnsperf (whose own CPU time bash's `time` reports) is "other": work
	# that competed with the benchmark.
	local cpu0 cpu1 busy0 busy1 t0 t1 ok=1 client TIMEFORMAT='%3U %3S'
	cpu0=$(cpu_ticks "$pid")
	busy0=$(busy_ticks)
	t0=$(date +%s.%N)
	if ! { time timeout $((DURATION + 30)) "${PIN[@]}" dnsperf "${args[@]}" -l "$DURATION" >"$raw" 2>&1; } 2>"$raw.time"; then
		ok=0
	fi
	t1=$(date +%s.%N)
	busy1=$(busy_ticks)
	cpu1=$(cpu_ticks "$pid")
	stop_server "$pid"
	if [[ -n ${SINK_PID:-} ]]; then
		stop_server "$SINK_PID"
		SINK_PID=
	fi
	client=$(awk '{ print $1 + $2 }' "$raw.time")
	if ((!ok)) || ! grep -q 'Queries per second:' "$raw"; then
		warn "dnsperf failed against $server, run left out; see $raw"
		return 0
	fi

	# Pull QPS, latency and loss out of dnsperf's summary.
	awk -v sc="$scenario" -v sv="$server" -v rd="$round" -v hz="$CLK_TCK" -v t0="$t0" -v t1="$t1" \
		-v cpu="$((cpu1 - cpu0))" -v busy="$((busy1 - busy0))" -v client="$client" '
		/Queries per second:/ { qps = $4 }
		/Queries lost:/ { lost = $4; gsub(/[()%]/, "", lost) }
		# First match only: in TCP mode a second block reports connection
		# set-up latency under the same labels.
		/Average Latency \(s\):/ && lat == "" { lat = $4 }
		/Latency StdDev \(s\):/ && sd == "" { sd = $4 }
		END {
			wall = t1 - t0; cores = (cpu / hz) / wall
			other = (busy / hz - cpu / hz - client) / wall
			qpc = cores > 0 ? qps / cores : 0
			printf "%s\t%s\t%d\t%.0f\t%.3f\t%.0f\t%.6f\t%.6f\t%s\t%.2f\n", sc, sv, rd, qps, cores, qpc, lat, sd, lost, (other > 0 ? other : 0)
		}' "$raw" >>"$RUNS"
	tail -n1 "$RUNS" | awk -F'\t' '{ printf "  %-6s round %d: %8s qps, %.2f cores, %8s qps/core, avg %.3f ms, lost %s%%, other load %.2f cores\n", $2, $3, $4, $5, $6, $7 * 1000, $9, $10 }' >&2
}

# median reads numbers, one per line, and prints their median.
median() {
	sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# col SCENARIO SERVER N prints column N of $RUNS for one scenario/server.
col() {
	awk -F'\t' -v sc="$1" -v sv="$2" -v n="$3" '$1 == sc && $2 == sv { print $n }' "$RUNS"
}

# report SCENARIO prints the table of medians and the dnslb/peer ratios.
report() {
	local sc=$1 s qps qpc lat sd lost other
	local -A mq mc
	printf '\nscenario %s: %s round(s) x %ss, dnsperf -c %s -T %s -q %s%s\n' "$sc" "$ROUNDS" "$DURATION" \
		"$CLIENTS" "$THREADS" "$OUTSTANDING" "$( ((MAX_QPS > 0)) && echo " -Q $MAX_QPS")"
	printf '%-7s %5s %11s %15s %13s %12s %7s %6s\n' server runs "median QPS" "median QPS/core" "avg lat (ms)" "lat sd (ms)" "lost %" other
	for s in $SERVERS; do
		qps=$(col "$sc" "$s" 4 | median)
		qpc=$(col "$sc" "$s" 6 | median)
		lat=$(col "$sc" "$s" 7 | median)
		sd=$(col "$sc" "$s" 8 | median)
		lost=$(col "$sc" "$s" 9 | median)
		other=$(col "$sc" "$s" 10 | median)
		mq[$s]=$qps mc[$s]=$qpc
		awk -v s="$s" -v n="$(col "$sc" "$s" 4 | wc -l)" -v q="$qps" -v c="$qpc" -v l="$lat" -v d="$sd" -v x="$lost" -v o="$other" \
			'BEGIN { printf "%-7s %5d %11.0f %15.0f %13.3f %12.3f %7.2f %6.2f\n", s, n, q, c, l * 1000, d * 1000, x, o }'
	done
	if [[ -z ${mq[dnslb]:-} ]]; then
		echo "ratios: n/a (dnslb not measured)"
		return
	fi
	for s in $SERVERS; do
		[[ $s == dnslb ]] && continue
		awk -v s="$s" -v aq="${mq[dnslb]}" -v bq="${mq[$s]}" -v ac="${mc[dnslb]}" -v bc="${mc[$s]}" \
			'BEGIN { printf "dnslb/%-6s QPS x%.2f   QPS/core x%.2f\n", s, (bq > 0 ? aq / bq : 0), (bc > 0 ? ac / bc : 0) }'
	done
}

main() {
	prepare
	: >"$RUNS"
	local sc round i s ran=()
	local -a order
	read -r -a order <<<"$SERVERS"
	for sc in $SCENARIOS; do
		scenario_args "$sc" || continue
		ran+=("$sc")
		for ((round = 1; round <= ROUNDS; round++)); do
			log "scenario $sc round $round/$ROUNDS"
			# Rotate the order each round (a b c d, b c d a, ...) so slow
			# drifts in machine noise do not always hit the same server.
			for ((i = 0; i < ${#order[@]}; i++)); do
				s=${order[$(((i + round - 1) % ${#order[@]}))]}
				run_one "$sc" "$s" "$round"
			done
		done
	done
	{
		echo "dnslb comparison, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cpus, zone: $NAMES names"
		echo "servers pinned to cpu $SERVER_CPU, dnsperf to cpu $CLIENT_CPU; raw runs in $RUNS"
		for sc in "${ran[@]}"; do
			report "$sc"
		done
	} | tee "$RESULTS"
}

main "$@"
