package zones

import (
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// SVCB and HTTPS parameters may be written as keyNNNNN=value for any key
// (RFC 9460 section 2.1): the value is then a char-string whose bytes are
// the parameter's wire format, so key3="\000\053" is port=53 (as BIND 9.18
// and Knot DNS 3.2 read it). The zone parser (miekg/dns v1.1.73,
// svcbStringToKey) accepts that form only for keys it has no name for,
// and refuses "key1=..." with "bad SVCB key". To be fixed upstream; until
// then zonetext.SVCBGeneric writes such keys as private-use keys the zone parser
// keeps as bytes, and svcbRestore gives them their own numbers back and
// reads them as the named parameters they are.

// svcbRestore gives the placeholder keys of the SVCB and HTTPS records in
// rrs their own numbers, and reads their bytes as those parameters (which
// also checks them), by packing each record and unpacking it again.
func svcbRestore(rrs []located, ph map[dns.SVCBKey]dns.SVCBKey) error {
	for n, l := range rrs {
		var vals []dns.SVCBKeyValue
		switch r := l.rr.(type) {
		case *dns.SVCB:
			vals = r.Value
		case *dns.HTTPS:
			vals = r.Value
		default:
			continue
		}
		changed := false
		for _, v := range vals {
			if loc, ok := v.(*dns.SVCBLocal); ok {
				if key, ok := ph[loc.KeyCode]; ok {
					loc.KeyCode = key
					changed = true
				}
			}
		}
		if !changed {
			continue
		}
		buf := make([]byte, dns.Len(l.rr)+64)
		off, err := dns.PackRR(l.rr, buf, 0, nil, false)
		if err != nil {
			return err
		}
		rr, _, err := dns.UnpackRR(buf[:off], 0)
		if err != nil {
			h := l.rr.Header()
			return fmt.Errorf("%s %s: a parameter in the keyNNNNN form is not valid data for its key: %s", h.Name, dns.TypeToString[h.Rrtype], strings.TrimPrefix(err.Error(), "SVCB.Value: "))
		}
		rrs[n].rr = rr
	}
	return nil
}
