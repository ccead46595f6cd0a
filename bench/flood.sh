#!/usr/bin/env bash
# flood.sh: the response-rate-limiting bench. dnslb without RRL, dnslb with
# [rrl] and NSD with its rrl-* options serve the same zone; each gets the
# same reflection-style flood (bench/flood: one question, from 1 source
# address and from SOURCES addresses in SOURCES/250 /24s, at FACTOR times
# the configured rate per /24) with a legitimate client in the flooded /24
# asking the same question as a resolver would (UDP, retries, TCP on TC;
# for dnslb-cookie, DNS cookies: BADCOOKIE, then its good cookie exempts it).
# Loopback only; every run bounded by DURATION; see README.md.
set -euo pipefail
# Ports of its own (BASE+1..BASE+6), away from run.sh's default 25350.
BASE_PORT=${BASE_PORT:-26350}
source "$(dirname "$0")/lib.sh"

RATE=${RATE:-20}         # responses_per_second / rrl-ratelimit
SLIP=${SLIP:-2}          # slip / rrl-slip
FACTOR=${FACTOR:-10}     # the flood's rate per /24, in RATEs
SOURCES=${SOURCES:-10000}
DURATION=${DURATION:-10} # seconds of flood per run
ROUNDS=${ROUNDS:-1}
LEGIT=${LEGIT:-100}      # the legitimate client's questions per run
SERVERS=${SERVERS:-dnslb-norrl dnslb dnslb-cookie nsd} # dnslb-cookie: with [rrl], the legitimate client sends DNS cookies
NAME=${NAME:-h1.bench.example.}

ensure_tools
build_dnslb || die "dnslb does not build"
mkdir -p "$OUT/flood"
genzone "$OUT/flood/data" -names 1000
(cd "$REPO_ROOT" && go build -o "$OUT/floodgen" ./bench/flood)
results=$OUT/flood/results.jsonl
: >"$results"

# configure SERVER: the bench config of lib.sh with rate limiting on (or,
# for dnslb-norrl, off).
configure() {
	local server=$1
	case $server in
	dnslb-norrl) write_config dnslb "$OUT/flood" "$OUT/flood/data/zone/bench.example.zone" ;;
	dnslb | dnslb-cookie)
		write_config dnslb "$OUT/flood" "$OUT/flood/data/zone/bench.example.zone"
		cat >>"$OUT/flood/dnslb.toml" <<-EOF

			[rrl]
			responses_per_second = $RATE
			slip = $SLIP
		EOF
		;;
	nsd)
		write_config nsd "$OUT/flood" "$OUT/flood/data/zone/bench.example.zone"
		sed -i -e "s/rrl-ratelimit: 0/rrl-ratelimit: $RATE\n    rrl-slip: $SLIP\n    rrl-ipv4-prefix-length: 24/" \
			-e "s/rrl-whitelist-ratelimit: 0/rrl-whitelist-ratelimit: $RATE/" "$OUT/flood/nsd.conf"
		;;
	esac
}

for ((round = 1; round <= ROUNDS; round++)); do
	for sources in 1 "$SOURCES"; do
		prefixes=$(((sources + 249) / 250))
		qps=$((FACTOR * RATE * prefixes))
		for server in $SERVERS; do
			base=${server%-norrl}
			base=${base%-cookie}
			cookie=()
			[[ $server == *-cookie ]] && cookie=(-cookie)
			port=${PORT[$base]}
			if port_busy "$port"; then
				warn "port $port is taken; skipping $server"
				continue
			fi
			configure "$server"
			start_server "$base" "$OUT/flood"
			pid=$SERVER_PID
			if ! wait_ready "$port" "$pid" 30; then
				warn "$server did not start"
				stop_server "$pid"
				continue
			fi
			log "round $round: $server, $sources sources, $qps qps for ${DURATION}s"
			pin_cmd "$CLIENT_CPU"
			out=$(timeout $((DURATION + 60)) "${PIN[@]}" "$OUT/floodgen" -server "127.0.0.1:$port" -sources "$sources" \
				-qps "$qps" -duration "${DURATION}s" -name "$NAME" -legit "$LEGIT" "${cookie[@]}") || warn "flood failed for $server"
			stop_server "$pid"
			[[ -n $out ]] && printf '{"round":%d,"name":"%s",%s\n' "$round" "$server" "${out#\{}" >>"$results"
		done
	done
done

# The table: medians over rounds would go here; one line per run.
printf '%-12s %8s %7s %9s %9s %8s %8s %10s %6s\n' server sources qps sent replies full tc out/in legit
jq -r '[.name, .sources, .qps, .sent, .replies, .full, .truncated, (.out_per_in*1000|round/1000), "\(.legit_resolved)/\(.legit_asked) (\(.legit_via_tcp) tcp)"] | @tsv' "$results" |
	while IFS=$'\t' read -r n s q se r f t ratio l; do
		printf '%-12s %8s %7s %9s %9s %8s %8s %10s %s\n' "$n" "$s" "$q" "$se" "$r" "$f" "$t" "$ratio" "$l"
	done
