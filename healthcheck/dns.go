package healthcheck

import (
	"context"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// dnsChecker asks the backend one question and compares the rcode.
type dnsChecker struct {
	cfg    Config
	client *dns.Client
	qname  string
	qtype  uint16
	rcode  int
}

func newDNSChecker(cfg Config) *dnsChecker {
	c := &dnsChecker{
		cfg:    cfg,
		client: &dns.Client{Net: "udp"},
		qname:  dns.Fqdn(cfg.QueryName),
		qtype:  dns.TypeA,
		rcode:  dns.RcodeSuccess,
	}
	if cfg.Transport == "tcp" {
		c.client.Net = "tcp"
	}
	if cfg.QueryType != "" {
		c.qtype = dns.StringToType[strings.ToUpper(cfg.QueryType)]
	}
	if cfg.ExpectRcode != "" {
		c.rcode = dns.StringToRcode[strings.ToUpper(cfg.ExpectRcode)]
	}
	return c
}

func (c *dnsChecker) Check(ctx context.Context, addr netip.Addr) Result {
	start := time.Now()
	m := new(dns.Msg)
	m.SetQuestion(c.qname, c.qtype)
	m.RecursionDesired = false
	resp, _, err := c.client.ExchangeContext(ctx, m, dialTarget(c.cfg, addr, 53))
	if err != nil {
		return fail(start, reason(err))
	}
	if resp.Rcode != c.rcode {
		return fail(start, "rcode "+dns.RcodeToString[resp.Rcode])
	}
	return ok(start)
}
