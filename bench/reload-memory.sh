#!/usr/bin/env bash
# Reload memory: starts dnslb on a generated zone of about RECORDS records,
# reads its settled resident memory, then RELOADS times changes the zone's
# serial and sends SIGHUP while dnsperf queries it at QPS, and prints the
# resident memory after each reload and the peak (VmHWM). Issue 14's target:
# the peak stays below 2x the settled memory. Loopback only; every wait and
# the load are bounded. The first load's peak is printed apart (VmHWM is
# reset after it). See bench/README.md.
#
# Settings (environment variables):
#   RECORDS=1000000  approximate records in the zone
#   RELOADS=10       reloads
#   QPS=5000         dnsperf's query rate during the reloads
#   SETTLE=4         seconds after the first answer and after each reload
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RECORDS=${RECORDS:-1000000}
RELOADS=${RELOADS:-10}
QPS=${QPS:-5000}
SETTLE=${SETTLE:-4}
DIR=$OUT/reload-memory

mib() { awk -v f="$1:" '$1 == f { printf "%d", $2 / 1024 }' "/proc/$2/status"; }

# wait_serial SERIAL: until the server answers SOA with SERIAL (at most 300 s).
wait_serial() {
	local i
	for ((i = 0; i < 1500; i++)); do
		if dig +short +time=1 +tries=1 -p "${PORT[dnslb]}" @127.0.0.1 bench.example SOA | grep -q " $1 3600 "; then
			return 0
		fi
		kill -0 "$SERVER_PID" 2>/dev/null || die "dnslb exited; log: $DIR/state/dnslb/server.log"
		sleep 0.2
	done
	die "serial $1 not served after 300 s"
}

main() {
	ensure_tools
	build_dnslb || die "dnslb does not build"
	port_busy "${PORT[dnslb]}" && die "port ${PORT[dnslb]} is in use (set BASE_PORT)"
	mkdir -p "$DIR"
	log "generating a zone of about $RECORDS records"
	genzone "$DIR/data" -records "$RECORDS" -queries 20000
	local zonefile=$DIR/data/zone/bench.example.zone
	write_config dnslb "$DIR" "$zonefile"
	start_server dnslb "$DIR"
	trap 'stop_server "$SERVER_PID"' EXIT
	wait_serial 1
	sleep "$SETTLE"
	local settled loadpeak i rss hwm=0 perf
	settled=$(mib VmRSS "$SERVER_PID")
	loadpeak=$(mib VmHWM "$SERVER_PID")
	# Reset the peak (VmHWM) so that the one printed at the end is the
	# reloads' own, not the first load's (printed apart).
	echo 5 >"/proc/$SERVER_PID/clear_refs" 2>/dev/null || warn "cannot reset VmHWM: the peak includes the first load"
	echo "dnslb reload memory, $(date -u +%Y-%m-%dT%H:%MZ), $(grep -vc '^\$' "$zonefile") records, $RELOADS reloads under $QPS qps" | tee "$DIR/results.txt"
	echo "settled RSS after load: $settled MiB (peak while loading: $loadpeak MiB)" | tee -a "$DIR/results.txt"
	timeout $((RELOADS * 60 + 60)) dnsperf -s 127.0.0.1 -p "${PORT[dnslb]}" -d "$DIR/data/queries-mixed.txt" \
		-l $((RELOADS * 60)) -Q "$QPS" -c 4 >"$DIR/dnsperf.log" 2>&1 &
	perf=$!
	for ((i = 2; i <= RELOADS + 1; i++)); do
		sed -i "s/^@ IN SOA ns1 hostmaster [0-9]* /@ IN SOA ns1 hostmaster $i /" "$zonefile"
		kill -HUP "$SERVER_PID"
		wait_serial "$i"
		sleep "$SETTLE"
		rss=$(mib VmRSS "$SERVER_PID")
		echo "reload $((i - 1)): RSS $rss MiB" | tee -a "$DIR/results.txt"
	done
	hwm=$(mib VmHWM "$SERVER_PID")
	kill -INT "$perf" 2>/dev/null || true
	wait "$perf" || true
	awk -v h="$hwm" -v s="$settled" 'BEGIN { printf "peak RSS of the reloads (VmHWM): %d MiB = %.2f x settled\n", h, h / s }' | tee -a "$DIR/results.txt"
	grep -E "Queries (sent|lost)" "$DIR/dnsperf.log" | tee -a "$DIR/results.txt"
}

main "$@"
