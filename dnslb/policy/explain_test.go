package policy_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/dnslb/dnslb/dnslb/config"
	"github.com/dnslb/dnslb/dnslb/policy"
)

func TestExplainGeo(t *testing.T) {
	g := testGeoDB(t)
	p := mustCompile(t, geoConfig(), geoZone)
	q := query("192.0.2.200", policy.FamilyV4)
	e := p.Explain(q, down("192.0.2.40"), g)
	got := e.String()
	for _, want := range []string{
		"www.example.org. A for client 192.0.2.200\n",
		"policy: select geo, pick round-robin, max_answers 0",
		"geoip: 192.0.2.200 is country US, continent NA, subdivision US-CA, asn 64500, location 37.77,-122.42 (network /25)",
		"candidate group ca (rule subdivision:US-CA): 0 healthy, no healthy address, falling through",
		"192.0.2.40 down weight 1",
		"candidate group us (rule country:US): 1 healthy, chosen",
		"192.0.2.20 up weight 1",
		"result: group us, [192.0.2.20], scope /25",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Explain() lacks %q; got:\n%s", want, got)
		}
	}
	// Explain makes the same decision as Select.
	d := p.Select(q, down("192.0.2.40"), g, seeded(), nil)
	if d.Group != e.Decision.Group || d.Scope != e.Decision.Scope {
		t.Errorf("Select = %+v, Explain decided %+v", d, e.Decision)
	}
}

func TestExplainDoesNotRotate(t *testing.T) {
	p := mustCompile(t, config.NameConfig{}, addrs("192.0.2.1", "192.0.2.2"))
	q := query("198.51.100.1", policy.FamilyV4)
	first := p.Select(q, policy.AllUp{}, nil, seeded(), nil).Addrs[0]
	p.Explain(q, policy.AllUp{}, nil)
	p.Explain(q, policy.AllUp{}, nil)
	if next := p.Select(q, policy.AllUp{}, nil, seeded(), nil).Addrs[0]; next == first {
		t.Errorf("Select after Explain starts with %s again; Explain must not advance the rotation", next)
	}
}

func TestExplainAllDown(t *testing.T) {
	p := mustCompile(t, config.NameConfig{Select: "failover", WhenAllDown: "servfail", Order: []string{"a"},
		Groups: map[string]config.GroupConfig{"a": {Addresses: []string{"192.0.2.1"}}}}, addrs("192.0.2.1"))
	got := p.Explain(&policy.Query{Client: netip.MustParseAddr("198.51.100.0"), ECS: true, SourcePrefix: 24, Family: policy.FamilyV4}, down("192.0.2.1"), nil).String()
	for _, want := range []string{"(ECS source /24)", "candidate group a (failover): 0 healthy", "when_all_down = servfail", "result: all down"} {
		if !strings.Contains(got, want) {
			t.Errorf("Explain() lacks %q; got:\n%s", want, got)
		}
	}
}
