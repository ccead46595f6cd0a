package zones

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/zones/zonetext"
)

// needsSlow reports whether a file (or a file it includes) has entries
// that the zone parser, reading the whole file in one go, reads wrongly,
// so that only parseSlow, which parses each entry on its own and works
// around them, may read it:
//
//   - $GENERATE: the zone parser gives the records TTL 3600 whatever the
//     $TTL, and splits quoted data differently from BIND; generate
//     expands it as BIND does.
//   - IPSECKEY: the zone parser's IPSECKEY reader takes the first word of
//     the next line for garbage after its own record (see below), which
//     an entry parsed on its own does not have.
//   - SVCB and HTTPS parameters written as keyNNNNN for a key the zone
//     parser knows by name (see zonetext.SVCBGeneric).
//
// A false positive (the words in a comment, say) costs only speed.
func needsSlow(path string, data []byte, depth int) bool {
	if zonetext.ContainsFold(data, "$generate") || zonetext.ContainsFold(data, "ipseckey") || zonetext.HasGenericKey(data) {
		return true
	}
	if depth >= maxIncludeDepth || !zonetext.ContainsFold(data, "$include") {
		return false
	}
	for _, e := range splitEntries(string(data)) {
		fields := zonetext.BlankFields(zonetext.StripComment(e.text))
		if len(fields) < 2 || !strings.EqualFold(fields[0], "$INCLUDE") {
			continue
		}
		inc := fields[1]
		if !filepath.IsAbs(inc) {
			inc = filepath.Join(filepath.Dir(path), inc)
		}
		if sub, err := os.ReadFile(inc); err == nil && needsSlow(inc, sub, depth+1) {
			return true
		}
	}
	return false
}

// IPSECKEY: in miekg/dns v1.1.73 (scan_rr.go), (*IPSECKEY).parse reads
// the public key with endingToString, which consumes the end of the line,
// and then calls slurpRemainder, which reads on into the next line: the
// next record fails with "garbage after rdata" on its first word unless
// the line after the IPSECKEY is empty or the end of the file. The other
// readers that end with endingToString do not call slurpRemainder. To be
// fixed upstream (github.com/miekg/dns, no issue found for it yet); until
// then files with an IPSECKEY go through parseSlow, whose entries are
// parsed one at a time, each at the end of its input.

// checkLongStrings reports a character-string of more than 255 bytes in an
// entry, which the zone parser has silently cut in pieces.
func checkLongStrings(path string, line int, text string, rrs []located) *Error {
	for _, l := range rrs {
		if zonetext.CharStrings(l.rr) == nil {
			continue
		}
		if n := zonetext.LongString(text); n > 0 {
			h := l.rr.Header()
			return &Error{File: path, Line: line, Msg: fmt.Sprintf(
				"%s %s: a string of %d bytes, more than the %d a string may hold: split it into several quoted strings",
				h.Name, dns.TypeToString[h.Rrtype], n, zonetext.MaxString)}
		}
	}
	return nil
}
