package dnslb

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/admin"
	"github.com/dnslb/dnslb/dnslb/answer"
	"github.com/dnslb/dnslb/dnslb/geo"
	"github.com/dnslb/dnslb/dnslb/policy"
	"github.com/dnslb/dnslb/dnslb/state"
	"github.com/dnslb/dnslb/healthcheck"
	"github.com/dnslb/dnslb/zones"
)

// ExplainQuery builds the selection query for `dnslb explain`: the client
// address, or the ECS subnet when one is given (capped as on the wire).
func ExplainQuery(qtype, client, subnet string) (policy.Query, error) {
	var q policy.Query
	switch strings.ToUpper(qtype) {
	case "A":
		q.Family = policy.FamilyV4
	case "AAAA":
		q.Family = policy.FamilyV6
	default:
		return q, fmt.Errorf("type %q: only A and AAAA answers are load-balanced", qtype)
	}
	if client != "" {
		a, err := netip.ParseAddr(client)
		if err != nil {
			return q, fmt.Errorf("client %q is not an IP address", client)
		}
		q.Client = a.Unmap()
	}
	if subnet != "" {
		p, err := netip.ParsePrefix(subnet)
		if err != nil {
			return q, fmt.Errorf("subnet %q is not a prefix like 198.51.100.0/24", subnet)
		}
		bits := p.Bits()
		if p.Addr().Is4() {
			bits = min(bits, answer.MaxECSv4)
		} else {
			bits = min(bits, answer.MaxECSv6)
		}
		q.Client, q.ECS, q.SourcePrefix = netip.PrefixFrom(p.Addr().Unmap(), bits).Masked().Addr(), true, bits
	}
	if !q.Client.IsValid() {
		return q, fmt.Errorf("give -client IP or -subnet PREFIX")
	}
	return q, nil
}

// Explain runs a name's selection for a client against the live state
// (health and overrides included) and says how it decided.
func (s *Server) Explain(name, qtype, client, subnet string) (string, error) {
	q, err := ExplainQuery(qtype, client, subnet)
	if err != nil {
		return "", err
	}
	owner := strings.ToLower(dns.Fqdn(name))
	snap := s.store.Snapshot()
	v := snap.Name(owner)
	if v == nil {
		rotate := "round-robin"
		if snap.Random {
			rotate = "random"
		}
		z := snap.Zone(owner)
		if z == nil {
			return "", fmt.Errorf("%s is in no zone this server serves: a query for it gets REFUSED: %w", owner, admin.ErrUnknownTarget)
		}
		if out, ok := explainPlain(z, owner, q.Family == policy.FamilyV6, rotate); ok {
			return out, nil
		}
		return "", fmt.Errorf("%s has no A or AAAA records in any served zone: %w", owner, admin.ErrUnknownTarget)
	}
	e := v.Policy.Explain(&q, v, snap.Geo())
	out := e.String()
	if v.Degraded() {
		out += "note: some addresses are down or drained"
		if v.HasDegraded {
			out += fmt.Sprintf("; answers carry the degraded TTL %d", v.DegradedTTL)
		}
		out += "\n"
	}
	out += s.explainReports(v)
	return out, nil
}

// explainReports lists the last raw load report of each address with
// one, beside the smoothed value the answers use.
func (s *Server) explainReports(v *state.NameView) string {
	probes := make(map[healthcheck.Key]healthcheck.Status)
	for _, p := range s.prober.Snapshot() {
		probes[p.Key] = p
	}
	var b strings.Builder
	for i, a := range v.Addrs {
		if al := addressLoad(v, a, v.Keys[i], probes); al != nil && al.Reported != nil && al.Smoothed != nil {
			fmt.Fprintf(&b, "load report: %s last reported %s %.4g, smoothed %.4g\n", a, al.Kind, *al.Reported, *al.Smoothed)
		}
	}
	return b.String()
}

// ExplainOffline explains a name's selection from the config file alone:
// no prober runs, so every address counts as up.
func ExplainOffline(cfgPath, name, qtype, client, subnet string) (string, error) {
	q, err := ExplainQuery(qtype, client, subnet)
	if err != nil {
		return "", err
	}
	st, err := buildState(cfgPath, nil)
	if err != nil {
		return "", err
	}
	owner := strings.ToLower(dns.Fqdn(name))
	ns := st.names[owner]
	if ns == nil {
		z := state.ZoneFor(st.zones, owner)
		if z == nil {
			return "", fmt.Errorf("%s is in no zone of %s: a query for it would get REFUSED", owner, cfgPath)
		}
		if out, ok := explainPlain(z, owner, q.Family == policy.FamilyV6, st.cfg.Server.Rotate); ok {
			return out, nil
		}
		return "", fmt.Errorf("%s has no A or AAAA records in any zone of %s", owner, cfgPath)
	}
	var loc policy.Locator
	if st.cfg.NeedsGeo() {
		geo, err := geo.OpenTree(st.cfg.GeoIP.Files, nil)
		if err != nil {
			return "", err
		}
		loc = geo
	}
	return ns.Policy.Explain(&q, policy.AllUp{}, loc).String() + "(offline: health checks not run, every address counted up)\n", nil
}

// explainPlain explains the answer for a name that has addresses in zone
// z but no [name] table: the zone's records of the type asked, in the
// server's rotation.
func explainPlain(z *zones.Zone, owner string, v6 bool, rotate string) (string, bool) {
	qtype := "A"
	if v6 {
		qtype = "AAAA"
	}
	if z == nil {
		return "", false
	}
	addrs := state.ZoneAddrs(z, owner)
	if len(addrs) == 0 {
		return "", false
	}
	var list []string
	for _, a := range addrs {
		if a.Is4() != v6 {
			list = append(list, a.String())
		}
	}
	out := fmt.Sprintf("%s is not load-balanced (no [name.%q] table): no policy or health check applies.\n", owner, strings.TrimSuffix(owner, "."))
	if len(list) == 0 {
		return out + fmt.Sprintf("It has no %s records in zone %s.\n", qtype, z.Origin), true
	}
	return out + fmt.Sprintf("Every %s query gets its %d %s records from zone %s, %s order (server.rotate):\n  %s\n",
		qtype, len(list), qtype, z.Origin, rotate, strings.Join(list, " ")), true
}
