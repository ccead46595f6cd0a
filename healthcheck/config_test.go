package healthcheck

import (
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	with := func(f func(*Config)) Config {
		c := DefaultConfig()
		c.Type = "http"
		f(&c)
		return c
	}
	tests := []struct {
		name string
		cfg  Config
		want []string
	}{
		{"defaults http", with(func(c *Config) {}), nil},
		{"defaults https", with(func(c *Config) { c.Type = "https"; c.SNI = "www.example.org" }), nil},
		{"defaults icmp", with(func(c *Config) { c.Type = "icmp" }), nil},
		{"tcp with port", with(func(c *Config) { c.Type = "tcp"; c.Port = 443; c.Send = "x" }), nil},
		{"dns", with(func(c *Config) { c.Type = "dns"; c.QueryName = "example.org"; c.QueryType = "aaaa" }), nil},
		{"bad type", with(func(c *Config) { c.Type = "htp" }),
			[]string{`type "htp" is not one of tcp, http, https, icmp, dns, load`}},
		{"missing type", Config{}, []string{`type "" is not one of tcp, http, https, icmp, dns, load`,
			`interval "0s" is below the 1s minimum`, `timeout "0s" must be positive`,
			`rise 0 out of range 1..10`, `fall 0 out of range 1..10`}},
		// An unknown type skips only the checks that depend on the type.
		{"bad type and more", with(func(c *Config) { c.Type = "htp"; c.Rise = 0; c.Port = 70000; c.Path = "/x" }),
			[]string{`type "htp" is not one of tcp, http, https, icmp, dns, load`, `rise 0 out of range 1..10`, `port 70000 out of range 1..65535`}},
		{"zero interval", with(func(c *Config) { c.Interval = 0 }),
			[]string{`interval "0s" is below the 1s minimum`}},
		{"timeout not shorter", with(func(c *Config) { c.Interval = 2 * time.Second; c.Timeout = 5 * time.Second }),
			[]string{`timeout 5s must be shorter than interval 2s`}},
		{"zero timeout", with(func(c *Config) { c.Timeout = 0 }), []string{`timeout "0s" must be positive`}},
		{"thresholds", with(func(c *Config) { c.Rise = 0; c.Fall = 11 }),
			[]string{`rise 0 out of range 1..10`, `fall 11 out of range 1..10`}},
		{"tcp without port", with(func(c *Config) { c.Type = "tcp" }),
			[]string{`port is required for type tcp (or set target)`}},
		{"bad port", with(func(c *Config) { c.Port = 70000 }), []string{`port 70000 out of range 1..65535`}},
		{"option of another type", with(func(c *Config) { c.Type = "tcp"; c.Port = 22; c.Path = "/health" }),
			[]string{`path is not used by type tcp`}},
		{"http options", with(func(c *Config) {
			c.Method = "POST"
			c.Path = "health"
			c.ExpectStatus = []string{"200", "2xx", "299-200"}
			c.ExpectBodyRegex = "("
			c.BodyLimit = 0
		}), []string{
			`body_limit 0 out of range 1..1024 (KiB)`,
			`path "health" must start with /`,
			`method "POST" is not one of GET, HEAD`,
			`expect_status "2xx" is not a status code or range like "200" or "200-299"`,
			`expect_status "299-200" is not a status code or range like "200" or "200-299"`,
			"expect_body_regex \"(\": error parsing regexp: missing closing ): `(`",
		}},
		{"head with body", with(func(c *Config) { c.Method = "HEAD"; c.ExpectBody = "ok" }),
			[]string{`expect_body needs method GET, not HEAD`}},
		{"url target", with(func(c *Config) { c.Target = "ftp://example.org/" }),
			[]string{`target "ftp://example.org/" is not an http or https URL`}},
		{"path with url target", with(func(c *Config) { c.Target = "https://www.example.org/health"; c.Path = "/" }),
			[]string{`path cannot be combined with a URL target; put the path in the URL`}},
		{"tcp target", with(func(c *Config) { c.Type = "tcp"; c.Target = "example.org" }),
			[]string{`target "example.org" is not host:port`}},
		{"icmp target", with(func(c *Config) { c.Type = "icmp"; c.Target = "example.org" }),
			[]string{`target "example.org" is not an IP address`}},
		{"dns", with(func(c *Config) { c.Type = "dns"; c.QueryType = "AAA"; c.ExpectRcode = "NXDOMIAN"; c.Transport = "tls" }),
			[]string{
				`query_name is required for type dns`,
				`query_type "AAA" is not a DNS type`,
				`expect_rcode "NXDOMIAN" is not a DNS rcode`,
				`transport "tls" is not one of udp, tcp`,
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, err := range tc.cfg.Validate() {
				got = append(got, err.Error())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("Validate() =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestNewCheckerRejectsInvalid(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Type = "tcp"
	if _, err := NewChecker(cfg); err == nil || err.Error() != "port is required for type tcp (or set target)" {
		t.Errorf("NewChecker(tcp without port) = %v, want the Validate error", err)
	}
}
