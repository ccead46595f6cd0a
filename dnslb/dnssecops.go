package dnslb

import (
	"maps"
	"slices"
	"time"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/admin"
	"github.com/dnslb/dnslb/dnslb/config"
	"github.com/dnslb/dnslb/dnslb/dnssec"
	"github.com/dnslb/dnslb/dnslb/metrics"
	"github.com/dnslb/dnslb/dnslb/sign"
)

// dnssecStatus is what the status page and /api/status show of zone
// origin's signing: nil for a zone without keys.
func (s *Server) dnssecStatus(origin string) *admin.DNSSECStatus {
	sg := s.sign.Signers()[origin]
	if sg == nil {
		return nil
	}
	st := sg.Stats()
	now := time.Now()
	_, ex := dnssec.Window(now)
	out := &admin.DNSSECStatus{Made: st.Made, Hits: st.Hits, Cached: st.Cached, SigningSeconds: st.Signing.Seconds(),
		Expires: time.Unix(int64(ex), 0).UTC(), Renew: dnssec.WindowEnd(now)}
	for _, k := range slices.Concat(sg.KSKs, sg.ZSKs) {
		if slices.ContainsFunc(out.Keys, func(ks admin.KeyStatus) bool { return ks.Tag == k.Tag() }) {
			continue // a CSK, in both lists
		}
		role := "ZSK"
		switch ksk, zsk := slices.Contains(sg.KSKs, k), slices.Contains(sg.ZSKs, k); {
		case ksk && zsk:
			role = "CSK"
		case ksk:
			role = "KSK"
		}
		out.Keys = append(out.Keys, admin.KeyStatus{Tag: k.Tag(), Algorithm: dns.AlgorithmToString[k.DNSKEY.Algorithm], Role: role})
	}
	return out
}

// warnSignedTransfers logs, at each load, the signed zones that
// [transfer] lets secondaries copy: a transfer gives the zone unsigned (a
// signed zone's answers are made per query), and a secondary serving that
// copy under a parent's DS fails validation. The transfer is not refused
// (a backup or a monitor may want the data); the operator is told.
func (s *Server) warnSignedTransfers(cfg *config.Config, ss sign.Signers) {
	t := cfg.Transfer
	if len(ss) == 0 || len(t.Allow) == 0 && len(t.Keys) == 0 && len(t.Notify) == 0 {
		return
	}
	for _, origin := range slices.Sorted(maps.Keys(ss)) {
		s.log.Warn("dnssec: zone transfers give this signed zone unsigned; a secondary must not serve it (run another dnslb with the same keys instead)", "zone", origin)
	}
}

// dnssecMetrics are the signing counts of every signed zone, for
// metrics.Registry.DNSSEC.
func (s *Server) dnssecMetrics() []metrics.DNSSECZone {
	ss := s.sign.Signers()
	out := make([]metrics.DNSSECZone, 0, len(ss))
	for origin, sg := range ss {
		st := sg.Stats()
		out = append(out, metrics.DNSSECZone{Zone: origin, Made: st.Made, Hits: st.Hits, Signing: st.Signing})
	}
	return out
}
