#!/usr/bin/env bash
# Memory and load-time comparison on a large zone: starts each server on a
# generated zone of about RECORDS records, measures the time until it
# answers SOA, then its resident memory, and prints bytes per record.
# See bench/README.md.
#
# Settings (environment variables):
#   RECORDS=1000000          approximate records in the zone
#   ZONE=FILE                use FILE (a zone of bench.example.) instead of
#                            the generated one
#   SERVERS="dnslb nsd knot" (gdnsd works too)
#   LOAD_TIMEOUT=300         seconds to wait for a server to answer
#   SETTLE=4                 seconds to wait after the first answer before
#                            reading memory (background loading, GC)
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RECORDS=${RECORDS:-1000000}
ZONE=${ZONE:-}
SERVERS=${SERVERS:-dnslb nsd knot}
LOAD_TIMEOUT=${LOAD_TIMEOUT:-300}
SETTLE=${SETTLE:-4}
MEM=$OUT/memory

# kib_sum FIELD PID... sums a "Field: N kB" line over the processes. VmRSS
# comes from /proc/PID/status, Pss from /proc/PID/smaps_rollup.
kib_sum() {
	local field=$1 file pid total=0 v
	shift
	case $field in
	Pss) file=smaps_rollup ;;
	*) file=status ;;
	esac
	for pid in "$@"; do
		v=$(awk -v f="$field:" '$1 == f { print $2 }' "/proc/$pid/$file" 2>/dev/null || true)
		total=$((total + ${v:-0}))
	done
	echo "$total"
}

# cpu_ticks PID... sums user and system CPU time (clock ticks) over the
# processes, from /proc/PID/stat (fields 14 and 15, after the command's
# parenthesised name).
cpu_ticks() {
	local pid total=0 v
	for pid in "$@"; do
		v=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{ print $12 + $13 }' || true)
		total=$((total + ${v:-0}))
	done
	echo "$total"
}

main() {
	ensure_tools
	local servers=() s
	for s in $SERVERS; do
		if [[ $s == dnslb ]] && ! build_dnslb; then
			continue
		fi
		servers+=("$s")
	done
	mkdir -p "$MEM"
	local zonefile=$MEM/data/zone/bench.example.zone records
	if [[ -n $ZONE ]]; then
		# A zone of the caller's for bench.example (another shape: one
		# address per name, a reverse-style zone of PTRs).
		mkdir -p "$MEM/data/zone"
		cp "$ZONE" "$zonefile"
	else
		log "generating a zone of about $RECORDS records"
		genzone "$MEM/data" -records "$RECORDS" -queries 0
	fi
	# Every line that is not a $ORIGIN/$TTL directive is one record.
	records=$(grep -vc '^\$' "$zonefile")

	{
		echo "dnslb memory comparison, $(date -u +%Y-%m-%dT%H:%MZ), zone: $records records ($(du -h "$zonefile" | cut -f1) on disk)"
		echo "load = start until first SOA answer; load CPU = user+system CPU seconds of the process tree by then;"
		echo "RSS = VmRSS of the main process;"
		echo "PSS = proportional set size summed over the process tree (counts memory shared by forked workers once)"
		printf '%-7s %10s %10s %12s %12s %14s\n' server "load (s)" "CPU (s)" "RSS (MiB)" "PSS (MiB)" "PSS B/record"
	} | tee "$MEM/results.txt"

	local t0 t1 pid rss pss pids ticks
	for s in "${servers[@]}"; do
		if port_busy "${PORT[$s]}"; then
			warn "port ${PORT[$s]} is already in use; $s skipped (set BASE_PORT)"
			continue
		fi
		write_config "$s" "$MEM" "$zonefile"
		t0=$(date +%s.%N)
		start_server "$s" "$MEM"
		pid=$SERVER_PID
		if ! wait_ready "${PORT[$s]}" "$pid" "$LOAD_TIMEOUT"; then
			warn "$s did not answer within ${LOAD_TIMEOUT}s; log: $MEM/state/$s/server.log"
			stop_server "$pid"
			continue
		fi
		t1=$(date +%s.%N)
		mapfile -t pids < <(tree_pids "$pid")
		ticks=$(cpu_ticks "${pids[@]}")
		sleep "$SETTLE"
		mapfile -t pids < <(tree_pids "$pid")
		rss=$(kib_sum VmRSS "$pid")
		pss=$(kib_sum Pss "${pids[@]}")
		stop_server "$pid"
		awk -v s="$s" -v t0="$t0" -v t1="$t1" -v c="$ticks" -v hz="$CLK_TCK" -v rss="$rss" -v pss="$pss" -v n="$records" \
			'BEGIN { printf "%-7s %10.2f %10.2f %12.1f %12.1f %14.0f\n", s, t1 - t0, c / hz, rss / 1024, pss / 1024, pss * 1024 / n }' |
			tee -a "$MEM/results.txt"
	done
}

main "$@"
