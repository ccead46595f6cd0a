#!/usr/bin/env bash
# smoke.sh: a dozen dig queries against a server that serves testdata/zones,
# each checked for the status, flags and records a correct authoritative
# server returns. Usage: testdata/smoke.sh PORT [ADDRESS]
#
# The expectations hold for NSD and Knot DNS as well as dnslb; TestSmoke in
# cmd/dnslb runs this script against all three. Prints one line per check and
# exits 1 if any check failed.
set -euo pipefail

port=${1:?usage: smoke.sh PORT [ADDRESS]}
server=${2:-127.0.0.1}
failures=0

# ask runs dig without recursion, with short timeouts, and keeps the full output.
ask() {
	dig @"$server" -p "$port" +norec +time=2 +tries=2 "$@"
}

# check DESCRIPTION 'dig args' PATTERN...: every extended regex must match.
# A pattern starting with ! must not match.
check() {
	local desc=$1 args=$2 out pat
	shift 2
	# shellcheck disable=SC2086 # args are word-split on purpose
	if ! out=$(ask $args 2>&1); then
		echo "FAIL $desc: dig $args: $out"
		failures=$((failures + 1))
		return
	fi
	for pat in "$@"; do
		if [[ $pat == !* ]]; then
			if grep -qE -- "${pat#!}" <<<"$out"; then
				echo "FAIL $desc: dig $args: unexpected /${pat#!}/ in:"
				echo "$out"
				failures=$((failures + 1))
				return
			fi
		elif ! grep -qE -- "$pat" <<<"$out"; then
			echo "FAIL $desc: dig $args: no /$pat/ in:"
			echo "$out"
			failures=$((failures + 1))
			return
		fi
	done
	echo "ok   $desc"
}

# 1. Three A records at one name, authoritative, with the zone's TTL.
check "www A: three addresses" "www.example.org A" \
	'status: NOERROR' 'flags: qr aa' 'ANSWER: 3,' \
	'www\.example\.org\.\s+300\s+IN\s+A\s+192\.0\.2\.10' '192\.0\.2\.11' '192\.0\.2\.12'

# 2. A CNAME chain is followed inside the zone: three CNAMEs, then www's A records.
check "chain1 A: CNAME chain" "chain1.example.org A" \
	'status: NOERROR' 'ANSWER: 6,' 'chain1\.example\.org\.\s+3600\s+IN\s+CNAME\s+chain2\.example\.org\.' \
	'chain3\.example\.org\.\s+3600\s+IN\s+CNAME\s+www\.example\.org\.' 'www\.example\.org\.\s+300\s+IN\s+A'

# 3. The apex wildcard answers for a missing name, with the query name as owner.
check "wildcard A" "anything.example.org A" \
	'status: NOERROR' 'flags: qr aa' 'anything\.example\.org\.\s+3600\s+IN\s+A\s+192\.0\.2\.100'

# 4. b.example.org is an empty non-terminal (a.b exists): NODATA, not the
#    wildcard. The SOA TTL is min(SOA TTL 3600, MINIMUM 300) = 300.
check "empty non-terminal: NODATA" "b.example.org A" \
	'status: NOERROR' 'ANSWER: 0,' 'example\.org\.\s+300\s+IN\s+SOA'

# 5. Below the empty non-terminal there is no wildcard to match: NXDOMAIN.
check "below empty non-terminal: NXDOMAIN" "x.b.example.org A" \
	'status: NXDOMAIN' 'flags: qr aa' 'example\.org\.\s+300\s+IN\s+SOA'

# 6. example.net: SOA TTL 300 is below MINIMUM 3600, so the negative TTL is 300.
check "example.net NXDOMAIN: negative TTL" "nope.example.net A" \
	'status: NXDOMAIN' 'example\.net\.\s+300\s+IN\s+SOA'

# 7. The child zone answers its own names, negative TTL min(7200, 60) = 60.
check "child zone NXDOMAIN" "nope.sub.example.org TXT" \
	'status: NXDOMAIN' 'flags: qr aa' 'sub\.example\.org\.\s+60\s+IN\s+SOA'

# 8. The DS of the child lives in the parent, and the parent answers it.
check "DS at the cut comes from the parent" "sub.example.org DS" \
	'status: NOERROR' 'flags: qr aa' 'sub\.example\.org\.\s+3600\s+IN\s+DS\s+23456 13 2'

# 9. Below a delegation: a referral, not authoritative, NS in authority and
#    in-bailiwick glue in additional.
check "delegation: referral with glue" "host.deleg.example.org A" \
	'status: NOERROR' '!flags: qr aa' 'ANSWER: 0,' \
	'deleg\.example\.org\.\s+3600\s+IN\s+NS\s+ns1\.deleg\.example\.org\.' \
	'ns1\.deleg\.example\.org\.\s+3600\s+IN\s+A\s+192\.0\.2\.53'

# 10. A name outside every zone is refused.
check "outside every zone: REFUSED" "www.example A" 'status: REFUSED'

# 11. 40 A records do not fit in 512 bytes: TC over UDP without EDNS (+ignore
#     keeps dig from retrying over TCP).
check "big A without EDNS: truncated" "big.example.org A +noedns +ignore" 'flags: qr aa tc'

# 12. Over TCP the whole set comes back.
check "big A over TCP: all 40" "big.example.org A +tcp" 'ANSWER: 40,' '!flags: qr aa tc'

# 13. TXT escapes survive: quotes and backslashes inside a string.
check "TXT with escapes" "txt.example.org TXT" \
	'"quote \\"inside\\" and backslash \\\\ and semicolon ; here"' '"multi" "string" "record"'

# 14. Names match case-insensitively and the question's spelling is echoed.
check "mixed case" "mIxEd.CaSe.ExAmPlE.oRg A" \
	'status: NOERROR' ';mIxEd\.CaSe\.ExAmPlE\.oRg\.\s+IN\s+A' '192\.0\.2\.20'

# 15. Reverse zone: PTR.
check "PTR" "-x 192.0.2.10" 'status: NOERROR' 'IN\s+PTR\s+www\.example\.org\.'

if ((failures > 0)); then
	echo "$failures check(s) failed"
	exit 1
fi
echo "all checks passed"
