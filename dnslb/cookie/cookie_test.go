package cookie

import (
	"encoding/hex"
	"net/netip"
	"testing"
	"time"
)

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("hex %q: %v", s, err)
	}
	return b
}

func mustSecret(t *testing.T, s string) *Secret {
	t.Helper()
	k, err := ParseSecret(s)
	if err != nil {
		t.Fatalf("ParseSecret(%q): %v", s, err)
	}
	return &k
}

// at is a clock stopped at Unix time sec.
func at(sec int64) func() time.Time { return func() time.Time { return time.Unix(sec, 0) } }

// TestRFC9018Vectors runs the examples of RFC 9018 Appendix A through
// Check: the query's COOKIE option as the client sent it, what it
// showed, and the reply's option byte for byte.
func TestRFC9018Vectors(t *testing.T) {
	const (
		secret1 = "e5e973e5a6b2a43f48e7dc849e37bfcf"
		oldA4   = "dd3bdf9344b678b185a6f5cb60fca715"
		newA4   = "445536bcd2513298075a5d379663c962"
	)
	for _, tc := range []struct {
		name      string
		cur, prev string
		addr      string
		now       int64
		query     string
		want      Result
		reply     string
	}{
		{"A.1 learning a new server cookie", secret1, "", "198.51.100.100", 1559731985,
			"2464c4abcf10c957", ClientOnly,
			"2464c4abcf10c957010000005cf79f111f8130c3eee29480"},
		// 40 minutes later: good, but older than half an hour, so renewed.
		{"A.2 the same client learning a renewed server cookie", secret1, "", "198.51.100.100", 1559734385,
			"2464c4abcf10c957010000005cf79f111f8130c3eee29480", Good,
			"2464c4abcf10c957010000005cf7a871d4a564a1442aca77"},
		// The query's cookie (another server of the fleet, reserved
		// bytes set) is 1h52m old at the RFC's reply time: outside
		// the one hour of section 4.3, so Bad, and the reply is the
		// RFC's new cookie all the same.
		{"A.3 another client, a cookie too old", secret1, "", "203.0.113.203", 1559734700,
			"fc93fc62807ddb8601abcdef5cf78f71a314227b6679ebf5", Bad,
			"fc93fc62807ddb86010000005cf7a9acf73a7810aca2381e"},
		// The same cookie within its hour verifies: the reserved bytes
		// are hashed as they came.
		{"A.3 the same cookie within its hour", secret1, "", "203.0.113.203", 0x5cf78f71 + 60,
			"fc93fc62807ddb8601abcdef5cf78f71a314227b6679ebf5", Good,
			"fc93fc62807ddb8601abcdef5cf78f71a314227b6679ebf5"},
		{"A.4 IPv6, made with the previous secret", newA4, oldA4, "2001:db8:220:1:59de:d0f4:8769:82b8", 1559741961,
			"22681ab97d52c298010000005cf7c57926556bd0934c72f8", Good,
			"22681ab97d52c298010000005cf7c609a6bb79d16625507a"},
		{"A.4 without the previous secret", newA4, "", "2001:db8:220:1:59de:d0f4:8769:82b8", 1559741961,
			"22681ab97d52c298010000005cf7c57926556bd0934c72f8", Bad,
			"22681ab97d52c298010000005cf7c609a6bb79d16625507a"},
		{"A.4 with the old secret current: echoed", oldA4, "", "2001:db8:220:1:59de:d0f4:8769:82b8", 1559741961,
			"22681ab97d52c298010000005cf7c57926556bd0934c72f8", Good,
			"22681ab97d52c298010000005cf7c57926556bd0934c72f8"},
		{"another address", secret1, "", "198.51.100.101", 1559731985 + 10,
			"2464c4abcf10c957010000005cf79f111f8130c3eee29480", Bad, ""},
		{"IPv4-mapped is the IPv4 address", secret1, "", "::ffff:198.51.100.100", 1559731985 + 10,
			"2464c4abcf10c957010000005cf79f111f8130c3eee29480", Good,
			"2464c4abcf10c957010000005cf79f111f8130c3eee29480"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var prev *Secret
			if tc.prev != "" {
				prev = mustSecret(t, tc.prev)
			}
			c := NewChecker(*mustSecret(t, tc.cur), prev, at(tc.now))
			var out [ReplyLen]byte
			got := c.Check(mustHex(t, tc.query), netip.MustParseAddr(tc.addr), &out)
			if got != tc.want {
				t.Errorf("Check(%s) = %v, want %v", tc.query, got, tc.want)
			}
			if tc.reply != "" && hex.EncodeToString(out[:]) != tc.reply {
				t.Errorf("reply cookie %x, want %s", out, tc.reply)
			}
		})
	}
}

// TestWindow checks the timestamps RFC 9018 section 4.3 accepts: up to
// an hour old and five minutes ahead, echoed up to half an hour, across
// the 2^32 wrap.
func TestWindow(t *testing.T) {
	k := RandomSecret()
	client := mustHex(t, "0102030405060708")
	addr := netip.MustParseAddr("192.0.2.1")
	for _, tc := range []struct {
		name   string
		made   uint32
		now    int64
		want   Result
		echoed bool
	}{
		{"this second", 1000000, 1000000, Good, true},
		{"half an hour old", 1000000, 1000000 + 1800, Good, true},
		{"half an hour and a second", 1000000, 1000000 + 1801, Good, false},
		{"an hour old", 1000000, 1000000 + 3600, Good, false},
		{"an hour and a second", 1000000, 1000000 + 3601, Bad, false},
		{"five minutes ahead", 1000000, 1000000 - 300, Good, true},
		{"five minutes and a second ahead", 1000000, 1000000 - 301, Bad, false},
		{"across the wrap", 0xffffff00, 1<<32 + 0x100, Good, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := Make(&k, client, addr, tc.made)
			q := append(append([]byte(nil), client...), sc[:]...)
			var out [ReplyLen]byte
			got := NewChecker(k, nil, at(tc.now)).Check(q, addr, &out)
			if got != tc.want {
				t.Errorf("Check = %v, want %v", got, tc.want)
			}
			if echoed := string(out[:]) == string(q); echoed != tc.echoed {
				t.Errorf("echoed = %v, want %v", echoed, tc.echoed)
			}
			if string(out[:ClientLen]) != string(client) {
				t.Errorf("reply's client cookie %x, want %x", out[:ClientLen], client)
			}
		})
	}
}

// TestLengths: RFC 7873 section 5.2.2's malformed lengths, and a server
// cookie of a length or version not ours (Bad, not Malformed).
func TestLengths(t *testing.T) {
	c := NewChecker(RandomSecret(), nil, nil)
	addr := netip.MustParseAddr("2001:db8::1")
	for n, want := range map[int]Result{
		0: Malformed, 7: Malformed, 8: ClientOnly, 9: Malformed, 15: Malformed,
		16: Bad, 24: Bad, 40: Bad, 41: Malformed,
	} {
		var out [ReplyLen]byte
		if got := c.Check(make([]byte, n), addr, &out); got != want {
			t.Errorf("Check(%d bytes) = %v, want %v", n, got, want)
		}
	}
}

func TestParseSecret(t *testing.T) {
	for _, s := range []string{"", "e5e973e5a6b2a43f48e7dc849e37bfc", "e5e973e5a6b2a43f48e7dc849e37bfcg", "e5e973e5a6b2a43f48e7dc849e37bfcf00"} {
		if _, err := ParseSecret(s); err == nil {
			t.Errorf("ParseSecret(%q): no error", s)
		}
	}
}

func TestCheckAllocs(t *testing.T) {
	c := NewChecker(RandomSecret(), nil, nil)
	q := mustHex(t, "2464c4abcf10c957010000005cf79f111f8130c3eee29480")
	addr := netip.MustParseAddr("2001:db8::1")
	var out [ReplyLen]byte
	if n := testing.AllocsPerRun(100, func() { c.Check(q, addr, &out) }); n != 0 {
		t.Errorf("Check allocates %v times", n)
	}
}
