package dnslb

import (
	"strings"
	"testing"
)

// TestCheckBadConfig: every problem in a bad config is reported, in line
// order, as path:line: key: what is wrong. These messages are user
// interface: change them on purpose only.
func TestCheckBadConfig(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"unknown_key.toml", []string{
			`testdata/bad/unknown_key.toml:5: unknown key server.rotat (did you mean rotate?)`,
		}},
		{"syntax.toml", []string{
			`testdata/bad/syntax.toml:3: expected '.' or ']' to end table name, but got '\n' instead`,
		}},
		{"bad_values.toml", []string{
			`testdata/bad/bad_values.toml:4: server.listen: "127.0.0.1:53x" (entry 1) is not an address:port like "127.0.0.1:53" or "[::1]:53"`,
			`testdata/bad/bad_values.toml:5: server.rotate: "sideways" is not one of round-robin, random`,
			`testdata/bad/bad_values.toml:6: server.udp_size: 100 out of range 512..4096`,
			`testdata/bad/bad_values.toml:9: log.level: "loud" is not one of debug, info, warn, error`,
			`testdata/bad/bad_values.toml:12: admin.token: a token is required when admin.listen 192.0.2.1:8053 is not a loopback address`,
			`testdata/bad/bad_values.toml:13: admin.metrics_listen: "9153" is not an address:port like "127.0.0.1:9153"`,
			`testdata/bad/bad_values.toml:16: transfer.allow: "10.0.0.0/33" (entry 2) is not an address or prefix like 192.0.2.53 or 2001:db8::/32`,
			`testdata/bad/bad_values.toml:17: transfer.notify: "192.0.2.53" (entry 1) is not an address:port like "192.0.2.53:53"`,
		}},
		{"rrl.toml", []string{
			`testdata/bad/rrl.toml:4: rrl.responses_per_second: -5 out of range 0..1000000 (0: off)`,
			`testdata/bad/rrl.toml:5: rrl.nxdomains_per_second: -2 out of range -1..1000000 (0: as responses_per_second, -1: not limited)`,
			`testdata/bad/rrl.toml:6: rrl.window: "1.5s" must be whole seconds from 1s to 1h`,
			`testdata/bad/rrl.toml:7: rrl.slip: 11 out of range 0..10`,
			`testdata/bad/rrl.toml:8: rrl.ipv4_prefix_length: 33 out of range 1..32`,
			`testdata/bad/rrl.toml:10: rrl.max_table_size must be a number, like 3; found the string "big"`,
		}},
		{"cluster.toml", []string{
			`testdata/bad/cluster.toml:4: cluster.bind: 192.0.2.1 is not a loopback address: set cluster.key_file, a file with the gossip encryption key (head -c 32 /dev/urandom | base64)`,
			`testdata/bad/cluster.toml:5: cluster.port: 70000 out of range 1..65535`,
			`testdata/bad/cluster.toml:6: cluster.seeds: "ns2.example.org" (entry 2) is not an address:port like "127.0.0.2:7946"`,
			`testdata/bad/cluster.toml:7: cluster.probers: 100 out of range 1..64`,
			`testdata/bad/cluster.toml:8: cluster.quorum: "most" is not "majority", "any", "all" or a number 1..probers (100)`,
		}},
		{"healthcheck.toml", []string{
			`testdata/bad/healthcheck.toml:4: healthcheck "web": type "htp" is not one of tcp, http, https, icmp, dns, load (did you mean http?)`,
			`testdata/bad/healthcheck.toml:5: healthcheck "web": interval "0s" is below the 1s minimum`,
			`testdata/bad/healthcheck.toml:10: unknown key healthcheck.tcp.intervall (did you mean interval?)`,
			`testdata/bad/healthcheck.toml:13: name."www.example.org": check "nope" is not defined in a [healthcheck.nope] table`,
		}},
		{"policy.toml", []string{
			`testdata/bad/policy.toml:6: name."www.example.org".weights."192.0.2.99": address 192.0.2.99 is not an A/AAAA record of www.example.org. (did you mean 192.0.2.10?)`,
			`testdata/bad/policy.toml:8: name."nothere.example.com": nothere.example.com. is not inside any served zone`,
			`testdata/bad/policy.toml:14: name."mail.example.org".rules[0].match[0]: "XX1" is not an ISO 3166-1 alpha-2 country code`,
			`testdata/bad/policy.toml:15: name."mail.example.org".rules[0].group: unknown group "eu"`,
		}},
		{"load.toml", []string{
			`testdata/bad/load.toml:7: healthcheck "lb": scheme "gopher" is not one of http, https`,
			`testdata/bad/load.toml:8: healthcheck "lb": capacity -5 must be a positive number`,
			`testdata/bad/load.toml:9: healthcheck "lb": half_life "-1s" is negative`,
			`testdata/bad/load.toml:10: healthcheck "lb": method is not used by type load`,
			`testdata/bad/load.toml:18: name."www.example.org".pick: needs a check of type "load" for "least-loaded"`,
			`testdata/bad/load.toml:19: name."www.example.org".low_watermark: 0.9 is above high_watermark 0.5`,
			`testdata/bad/load.toml:20: name."www.example.org".high_watermark: needs a check of type "load"`,
			`testdata/bad/load.toml:21: name."www.example.org".watermark_margin: 0.7 is above high_watermark 0.5`,
			`testdata/bad/load.toml:22: name."www.example.org".tolerance: only used with pick = "fastest"`,
			`testdata/bad/load.toml:25: name."mail.example.org".pick: needs a check for "fastest" (it orders by the probes' round-trip time)`,
			`testdata/bad/load.toml:26: name."mail.example.org".low_watermark: needs a high_watermark`,
			`testdata/bad/load.toml:27: name."mail.example.org".tolerance: -1 out of range 0..10`,
		}},
		// The toml library decodes a number or a string into a table
		// without complaint.
		{"not_tables.toml", []string{
			`testdata/bad/not_tables.toml:2: log must be a table; found the string "debug"`,
			`testdata/bad/not_tables.toml:3: healthcheck.web must be a table; found the number 5`,
			`testdata/bad/not_tables.toml:6: name."www.example.org".groups.eu must be a table; found the number 5`,
		}},
		// Arrays of tables: each element's line and index; a value that
		// did not decode raises no second error from the checks.
		{"arrays.toml", []string{
			`testdata/bad/arrays.toml:2: zone[0].name must be a string in quotes; found the number 5`,
			`testdata/bad/arrays.toml:8: unknown key zone[1].bogus`,
			`testdata/bad/arrays.toml:17: name."www.example.org".rules[0].group must be a string in quotes; found the number 5`,
			`testdata/bad/arrays.toml:19: name."www.example.org".rules[1].match must be a list of strings, like ["a", "b"]; found the number 7`,
		}},
		// A name written in capitals and with its trailing dot: the key's
		// line all the same.
		{"written_key.toml", []string{
			`testdata/bad/written_key.toml:5: name."www.example.org".max_answers: -1 is negative, want 0 (all) or more`,
		}},
		// One run reports every problem: values of the wrong type do not
		// hide the keys after them, bad values do not hide the policies
		// and zones, a zone's syntax errors do not hide its missing SOA.
		{"stages.toml", []string{
			`testdata/bad/stages.toml:5: server.udp_size must be a number, like 3; found the string "large"`,
			`testdata/bad/stages.toml:6: server.rotate: "sideways" is not one of round-robin, random`,
			`testdata/bad/stages.toml:7: server.tcp_idle_timeout must be a duration like "10s"; found the string "ten"`,
			`testdata/bad/stages.toml:10: healthcheck "web": type "htp" is not one of tcp, http, https, icmp, dns, load (did you mean http?)`,
			`testdata/bad/stages.toml:11: healthcheck "web": port 70000 out of range 1..65535`,
			`testdata/bad/stages.toml:12: healthcheck "web": interval "500ms" is below the 1s minimum`,
			`testdata/bad/stages.toml:16: name."www.good.test".max_answers: -1 is negative, want 0 (all) or more`,
			`testdata/bad/stages.toml:17: name."www.good.test".weights."192.0.2.1" must be a number, like 3; found the string "heavy"`,
			`testdata/bad/stages.toml:17: name."www.good.test".weights."192.0.2.9": address 192.0.2.9 is not an A/AAAA record of www.good.test. (did you mean 192.0.2.1?)`,
			`testdata/bad/stages.toml:18: name."www.good.test".when_all_down: "explode" is not one of serve-all, servfail, nodata, group:<name>`,
			`testdata/bad/stages-zones/broken.test.zone: no SOA record at the zone apex broken.test.`,
			`testdata/bad/stages-zones/broken.test.zone:3: broken.test. NS ns1.broken.test.: name server inside the zone has no A or AAAA record`,
			`testdata/bad/stages-zones/broken.test.zone:4:23: bad A record: "192.0.2.300" is not an IPv4 address`,
			`testdata/bad/stages-zones/broken.test.zone:5: mail.broken.test. CNAME: a CNAME cannot share its name with other data (A at line 6)`,
		}},
		// Every kind of mistake at once, config and zones: each one is
		// reported in one run, none hides another (issue 13): a misspelt
		// name table is still checked, a zone that did not load does not hide
		// the values of its names, a typo'd key does not hide the address
		// that is not in the zone, errors elsewhere do not hide a missing
		// GeoIP file.
		{"many.toml", []string{
			`testdata/bad/many.toml:7: server.udp_size must be a number, like 3; found the string "1232"`,
			`testdata/bad/many.toml:8: server.rotate: "randon" is not one of round-robin, random (did you mean random?)`,
			`testdata/bad/many.toml:11: unknown key log.levle (did you mean level?)`,
			`testdata/bad/many.toml:14: healthcheck "web": type "htpp" is not one of tcp, http, https, icmp, dns, load (did you mean http?)`,
			`testdata/bad/many.toml:16: healthcheck.web.fall must be a number, like 3; found the string "2"`,
			`testdata/bad/many.toml:17: unknown key healthcheck.web.intervall (did you mean interval?)`,
			`testdata/bad/many.toml:20: name."www.example.test": check "wbe" is not defined in a [healthcheck.wbe] table (did you mean web?)`,
			`testdata/bad/many.toml:22: unknown key name."www.example.test".max_answer (did you mean max_answers?)`,
			`testdata/bad/many.toml:23: name."www.example.test".weights."192.0.2.11": weight 5000 out of range 1..1000`,
			`testdata/bad/many.toml:25: name."www.example.test".groups.eu.addresses[1]: address 127.0.0.14 is not an A/AAAA record of www.example.test.`,
			`testdata/bad/many.toml:27: name."www.exmaple.test": www.exmaple.test. is not inside any served zone (did you mean www.example.test.?)`,
			`testdata/bad/many.toml:28: name."www.exmaple.test".pick: "weigthed" is not one of round-robin, random, weighted, sticky, least-loaded, fastest (did you mean weighted?)`,
			`testdata/bad/many.toml:29: name."www.exmaple.test".when_all_down: "fail" is not one of serve-all, servfail, nodata, group:<name> (did you mean servfail?)`,
			`testdata/bad/many.toml:36: name."geo.example.test".groups.eu.location: want [latitude, longitude], found 3 numbers`,
			`testdata/bad/many.toml:38: name."geo.example.test".rules[0].match[0]: "contry:DE": unknown kind "contry", want country, continent, subdivision, asn or cidr (did you mean country?)`,
			`testdata/bad/many.toml:39: name."geo.example.test".rules[0].group: unknown group "ue" (did you mean eu?)`,
			`testdata/bad/many.toml:43: name."www.broken.test".order[1]: unknown group "backup"`,
			`testdata/bad/many.toml:45: name."www.broken.test".groups.primary.addresses[0]: "192.0.2.300" is not an IP address`,
			`testdata/bad/many-zones/broken.test.zone:5:14: the MX preference must be a number 0..65535; found "x"`,
			`testdata/bad/many-zones/broken.test.zone:8:23: bad AAAA record: "192.0.2.25" is not an IPv6 address`,
			`testdata/bad/many.toml:48: geoip.files: file testdata/bad/no-such-city.mmdb does not exist`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			_, _, err := Check("testdata/bad/" + tc.file)
			if err == nil {
				t.Fatalf("Check(%s) = nil, want errors", tc.file)
			}
			if got, want := err.Error(), strings.Join(tc.want, "\n"); got != want {
				t.Errorf("Check(%s):\n got: %s\nwant: %s", tc.file, got, want)
			}
		})
	}
}

func TestCheckGoodConfigs(t *testing.T) {
	for _, path := range []string{"testdata/dnslb.toml", "../example/dnslb.toml"} {
		if _, zs, err := Check(path); err != nil || len(zs) == 0 {
			t.Errorf("Check(%s) = %d zones, %v", path, len(zs), err)
		}
	}
}
