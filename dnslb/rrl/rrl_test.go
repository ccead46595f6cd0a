package rrl

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// counts tallies the results of n responses.
type counts [NumResults]int

func (c counts) String() string {
	return fmt.Sprintf("sent %d dropped %d slipped %d would_drop %d would_slip %d", c[Send], c[Drop], c[Slip], c[WouldDrop], c[WouldSlip])
}

var t0 = time.Unix(1_700_000_000, 0)

func run(tb *Table, now time.Time, client string, c Class, name string, n int) counts {
	var out counts
	a := netip.MustParseAddr(client)
	for range n {
		out[tb.Response(now, a, c, name)]++
	}
	return out
}

func rates(r int) [NumClasses]int {
	var out [NumClasses]int
	for i := range out {
		out[i] = r
	}
	return out
}

// TestCounts is in the manner of BIND's rrl system test and Knot's RRL
// unit test: a fake clock, a burst per second, and the exact number of
// responses sent, dropped and slipped.
func TestCounts(t *testing.T) {
	tb := New(Config{Rates: rates(10), Window: 2, Slip: 2})
	// Second 0: 25 identical responses: 10 sent, then 15 over the rate:
	// the first slipped and every second after it (slip 2): 8 slips, 7 drops.
	if got, want := run(tb, t0, "192.0.2.1", Positive, "www.example.org.", 25), (counts{Send: 10, Drop: 7, Slip: 8}); got != want {
		t.Errorf("second 0: %v, want %v", got, want)
	}
	// The balance is floored at -window*rate = -20: it was -15.
	// Second 1: +10 credits -> -5: nothing sent; 10 more responses.
	if got, want := run(tb, t0.Add(time.Second), "192.0.2.200", Positive, "www.example.org.", 10), (counts{Drop: 5, Slip: 5}); got != want {
		t.Errorf("second 1, same /24: %v, want %v", got, want)
	}
	// -15 -> second 3 (two seconds later): +20 -> 5 sent; the slip count
	// goes on (it restarts only when the balance reaches the rate): the
	// last response of second 1 was slipped, so this one is dropped.
	if got, want := run(tb, t0.Add(3*time.Second), "192.0.2.7", Positive, "www.example.org.", 6), (counts{Send: 5, Drop: 1}); got != want {
		t.Errorf("second 3: %v, want %v", got, want)
	}
	// More than window seconds of quiet: a fresh account.
	if got, want := run(tb, t0.Add(6*time.Second), "192.0.2.7", Positive, "www.example.org.", 12), (counts{Send: 10, Slip: 1, Drop: 1}); got != want {
		t.Errorf("second 6: %v, want %v", got, want)
	}
	// Another /24, another name, another class: other accounts.
	for _, tc := range []struct {
		client string
		c      Class
		name   string
	}{
		{"192.0.3.1", Positive, "www.example.org."},
		{"192.0.2.1", Positive, "mail.example.org."},
		{"192.0.2.1", NoData, "www.example.org."},
		{"2001:db8:0:100::1", Positive, "www.example.org."},
	} {
		if got, want := run(tb, t0.Add(6*time.Second), tc.client, tc.c, tc.name, 10), (counts{Send: 10}); got != want {
			t.Errorf("%s %v %s: %v, want %v", tc.client, tc.c, tc.name, got, want)
		}
	}
	// /56: 2001:db8:0:1ff:: is in 2001:db8:0:100::/56, the account above.
	if got, want := run(tb, t0.Add(6*time.Second), "2001:db8:0:1ff::9", Positive, "www.example.org.", 2), (counts{Slip: 1, Drop: 1}); got != want {
		t.Errorf("same /56: %v, want %v", got, want)
	}
}

// TestClasses: each class has its own rate; errors share one account
// whatever the name; a class at rate 0 is not limited.
func TestClasses(t *testing.T) {
	var r [NumClasses]int
	r[Positive], r[NoData], r[NXDomain], r[Referral], r[Error] = 5, 4, 3, 2, 1
	tb := New(Config{Rates: r, Slip: 1})
	for _, tc := range []struct {
		c    Class
		want counts
	}{
		{Positive, counts{Send: 5, Slip: 15}},
		{NoData, counts{Send: 4, Slip: 16}},
		{NXDomain, counts{Send: 3, Slip: 17}},
		{Referral, counts{Send: 2, Slip: 18}},
		{Error, counts{Send: 1, Slip: 19}},
	} {
		if got := run(tb, t0, "198.51.100.1", tc.c, "example.org.", 20); got != tc.want {
			t.Errorf("%v: %v, want %v", tc.c, got, tc.want)
		}
	}
	// Errors: one account for every name.
	if got, want := run(tb, t0, "198.51.100.1", Error, "other.example.", 3), (counts{Slip: 3}); got != want {
		t.Errorf("error, other name: %v, want %v", got, want)
	}
	r[Referral] = 0
	tb = New(Config{Rates: r, Slip: 0})
	if got, want := run(tb, t0, "198.51.100.1", Referral, "sub.example.org.", 100), (counts{Send: 100}); got != want {
		t.Errorf("referral at rate 0: %v, want %v", got, want)
	}
	if got, want := run(tb, t0, "198.51.100.1", Positive, "example.org.", 8), (counts{Send: 5, Drop: 3}); got != want {
		t.Errorf("slip 0: %v, want %v", got, want)
	}
}

func TestLogOnly(t *testing.T) {
	tb := New(Config{Rates: rates(3), Slip: 2, LogOnly: true})
	if got, want := run(tb, t0, "203.0.113.5", NXDomain, "example.org.", 9), (counts{Send: 3, WouldSlip: 3, WouldDrop: 3}); got != want {
		t.Errorf("log only: %v, want %v", got, want)
	}
}

// TestBounded: the table holds at most MaxAccounts (per shard, rounded
// up), evicting the least recently used.
func TestBounded(t *testing.T) {
	tb := New(Config{Rates: rates(1), Slip: 1, MaxAccounts: 640})
	for i := range 100_000 {
		a := netip.AddrFrom4([4]byte{byte(10 + i>>16), byte(i >> 8), byte(i), 1})
		tb.Response(t0, a, Positive, "www.example.org.")
	}
	if n := tb.Len(); n > 640 || n < 600 {
		t.Errorf("Len() = %d after 100,000 prefixes, want about 640", n)
	}
	// The most recent account is still there (its second response slips).
	last := 99_999
	a := netip.AddrFrom4([4]byte{byte(10 + last>>16), byte(last >> 8), byte(last), 1})
	if r := tb.Response(t0, a, Positive, "www.example.org."); r != Slip {
		t.Errorf("latest account: %v, want slipped", r)
	}
}

func TestConcurrent(t *testing.T) {
	tb := New(Config{Rates: rates(100), Slip: 0})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var total counts
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := run(tb, t0, fmt.Sprintf("192.0.2.%d", g), Positive, "www.example.org.", 1000)
			mu.Lock()
			for i := range c {
				total[i] += c[i]
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if want := (counts{Send: 100, Drop: 7900}); total != want {
		t.Errorf("8 goroutines of one /24: %v, want %v", total, want)
	}
}

func BenchmarkResponse(b *testing.B) {
	tb := New(Config{Rates: rates(1 << 30)})
	a := netip.MustParseAddr("192.0.2.1")
	b.ReportAllocs()
	for b.Loop() {
		tb.Response(t0, a, Positive, "www.example.org.")
	}
}
