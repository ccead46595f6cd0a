package zones

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

const shareZone = `$ORIGIN example.org.
$TTL 300
@ SOA ns1 hostmaster SERIAL 7200 900 1209600 300
@ NS ns1
@ MX 10 mail
ns1 A 192.0.2.1
mail A 192.0.2.25
www A 192.0.2.10
www A 192.0.2.11
www AAAA 2001:db8::10
rr A 192.0.2.30
rr A 192.0.2.31
txt TXT "hello" "World"
ptr PTR Target.Example.NET.
svc 600 HTTPS 1 . alpn=h2
`

// writeZone writes text with the serial (and one address, when changed)
// into dir and returns its path.
func writeZone(t *testing.T, dir, text string) string {
	t.Helper()
	p := filepath.Join(dir, "example.org.zone")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLoadSharedReusesRecords: a zone loaded over its previous version
// takes the records that did not change (and owner names) from it, makes
// new ones for those that did, and is the same zone as Load makes.
func TestLoadSharedReusesRecords(t *testing.T) {
	dir := t.TempDir()
	p := writeZone(t, dir, strings.Replace(shareZone, "SERIAL", "1", 1))
	old, err := Load("example.org.", p)
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(shareZone, "SERIAL", "2", 1)
	changed = strings.Replace(changed, "www A 192.0.2.11", "www A 192.0.2.12", 1)
	changed = strings.Replace(changed, "mail A 192.0.2.25", "mail 60 A 192.0.2.25", 1)
	p = writeZone(t, dir, changed)
	z, err := LoadShared("example.org.", p, old)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := Load("example.org.", p)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rrStrings(z.Records()), rrStrings(fresh.Records()); !slices.Equal(got, want) {
		t.Fatalf("LoadShared records\n%s\nwant (Load)\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	first := func(z *Zone, name string, t uint16) dns.RR { return z.Node(name).Set(t).RRs()[0] }
	for _, c := range []struct {
		name   string
		rrtype uint16
		shared bool
	}{
		// (A and AAAA RRsets hold addresses, not records: nothing
		// of theirs is shared.)
		{"txt.example.org.", dns.TypeTXT, true},    // unchanged
		{"ptr.example.org.", dns.TypePTR, true},    // unchanged
		{"example.org.", dns.TypeSOA, false},       // serial changed
		{"svc.example.org.", dns.TypeHTTPS, false}, // a type never shared
	} {
		if got := first(z, c.name, c.rrtype) == first(old, c.name, c.rrtype); got != c.shared {
			t.Errorf("%s %s: shared with the previous zone = %v, want %v", c.name, dns.TypeToString[c.rrtype], got, c.shared)
		}
	}
	// Address sets are shared whole when unchanged (same TTL, the same
	// addresses in the same order), with their round-robin numbers.
	for _, c := range []struct {
		name   string
		rrtype uint16
		shared bool
	}{
		{"www.example.org.", dns.TypeAAAA, true}, // unchanged
		{"ns1.example.org.", dns.TypeA, true},    // unchanged
		{"www.example.org.", dns.TypeA, false},   // 192.0.2.11 became .12
		{"mail.example.org.", dns.TypeA, false},  // TTL changed
	} {
		if got := z.Node(c.name).Set(c.rrtype) == old.Node(c.name).Set(c.rrtype); got != c.shared {
			t.Errorf("%s %s set: shared with the previous zone = %v, want %v", c.name, dns.TypeToString[c.rrtype], got, c.shared)
		}
	}
	rots := map[int32]string{}
	for _, n := range []string{"www.example.org.", "rr.example.org."} {
		for _, t16 := range []uint16{dns.TypeA, dns.TypeAAAA} {
			if s := z.Node(n).Set(t16); s != nil && s.Rot != 0 {
				if o, dup := rots[s.Rot]; dup || int(s.Rot) > z.Rotations() {
					t.Errorf("%s %s: Rot %d (of %d) taken by %s too", n, dns.TypeToString[t16], s.Rot, z.Rotations(), o)
				}
				rots[s.Rot] = n + dns.TypeToString[t16]
			}
		}
	}
	www := z.Node("www.example.org.").Set(dns.TypeA).RRs()
	if len(www) != 2 || www[0].(*dns.A).A.String() != "192.0.2.10" || www[1].(*dns.A).A.String() != "192.0.2.12" {
		t.Errorf("www A = %v: want 192.0.2.10 and the changed 192.0.2.12", www)
	}
	if z.Node("www.example.org.").Name != old.Node("www.example.org.").Name ||
		strings.Clone(z.Node("www.example.org.").Name) != "www.example.org." {
		t.Error("owner name not taken from the previous zone")
	}
	// The previous zone is unchanged: it may still be serving.
	if got := old.Node("mail.example.org.").Set(dns.TypeA).RRs()[0].Header().Ttl; got != 300 {
		t.Errorf("previous zone's mail A TTL = %d, want 300", got)
	}
}

// TestLoadSharedWhileServing loads over a zone that is being looked up at
// the same time (run with -race): the new zone never writes to what it
// shares.
func TestLoadSharedWhileServing(t *testing.T) {
	dir := t.TempDir()
	p := writeZone(t, dir, strings.Replace(shareZone, "SERIAL", "1", 1))
	old, err := Load("example.org.", p)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var r Result
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			old.Lookup("www.example.org.", dns.TypeA, &r)
			for _, it := range r.Answer {
				for _, rr := range it.Set.RRs() {
					_ = rr.Header().Ttl
					_ = rr.String()
				}
			}
		}
	}()
	for i := 2; i < 20; i++ {
		text := strings.Replace(shareZone, "SERIAL", strings.Repeat("1", i%9+1), 1)
		if i%2 == 0 {
			text = strings.ReplaceAll(text, "$TTL 300", "$TTL 600") // every TTL changes
		}
		p = writeZone(t, dir, text)
		if _, err := LoadShared("example.org.", p, old); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
}

// TestLoadSharedSplitSet: a name whose records are apart in the file is
// shared with the previous zone once its first records are read, and
// copied when more come: the previous zone keeps its own set unchanged.
// (The slow path, for files with $GENERATE or warnings, shares nothing.)
func TestLoadSharedSplitSet(t *testing.T) {
	dir := t.TempDir()
	head := "$ORIGIN example.org.\n$TTL 300\n@ SOA ns1 hostmaster SERIAL 7200 900 1209600 300\n@ NS ns1\nns1 A 192.0.2.1\n"
	p := writeZone(t, dir, strings.Replace(head, "SERIAL", "1", 1)+"split A 192.0.2.40\nother A 192.0.2.50\n")
	old, err := Load("example.org.", p)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(head, "SERIAL", "2", 1) + "split A 192.0.2.40\nother A 192.0.2.50\nsplit A 192.0.2.41\nsplit A 192.0.2.40\n"
	p = writeZone(t, dir, text)
	for _, z := range func() []*Zone {
		shared, err := LoadShared("example.org.", p, old)
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := parse("example.org.", p, []byte(text), old) // from the text in memory
		if err != nil {
			t.Fatal(err)
		}
		return []*Zone{shared, parsed}
	}() {
		s := z.Node("split.example.org.").Set(dns.TypeA)
		if s == old.Node("split.example.org.").Set(dns.TypeA) || s.Len() != 2 || s.Addr(0).String() != "192.0.2.40" || s.Addr(1).String() != "192.0.2.41" || s.Rot == 0 {
			t.Errorf("split A = %v (Rot %d): want .40 .41 in a set of its own", s.RRs(), s.Rot)
		}
		if z.Node("other.example.org.").Set(dns.TypeA) != old.Node("other.example.org.").Set(dns.TypeA) {
			t.Error("other A not shared")
		}
	}
	if o := old.Node("split.example.org.").Set(dns.TypeA); o.Len() != 1 || o.Addr(0).String() != "192.0.2.40" || o.Rot != 0 {
		t.Errorf("the previous zone's split A changed: %v (Rot %d)", o.RRs(), o.Rot)
	}
}

// TestLoadSharedTwiceOverOne: two zones built over the same previous zone
// (LoadShared is exported; the server builds over its latest only) do
// not write into each other's copies of a large address set that both
// take from it and then extend (a set of 128 addresses or more grows by
// append, with room left at the end of the shared slice).
func TestLoadSharedTwiceOverOne(t *testing.T) {
	zone := func(extra string) string {
		net := 1
		if extra != "" {
			net = 2 // other small sets change too, so compact leaves the addresses where they are
		}
		var b strings.Builder
		b.WriteString("$ORIGIN example.org.\n$TTL 300\n@ SOA ns hostmaster 1 3600 900 604800 300\n@ NS ns\nns A 192.0.2.53\n")
		for i := range 200 {
			fmt.Fprintf(&b, "big A 10.0.%d.%d\n", i/256, i%256)
		}
		b.WriteString("x A 192.0.2.1\n")
		for i := range 8000 {
			fmt.Fprintf(&b, "h%d A 10.%d.%d.%d\n", i, net, i/256, i%256)
		}
		if extra != "" {
			fmt.Fprintf(&b, "big A %s\n", extra)
		}
		return b.String()
	}
	dir := t.TempDir()
	old, err := Load("example.org.", writeZone(t, dir, zone("")))
	if err != nil {
		t.Fatal(err)
	}
	p1, p2 := filepath.Join(dir, "a.zone"), filepath.Join(dir, "b.zone")
	for p, text := range map[string]string{p1: zone("10.9.9.1"), p2: zone("10.9.9.2")} {
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	z1, err := LoadShared("example.org.", p1, old)
	if err != nil {
		t.Fatal(err)
	}
	s1 := z1.Node("big.example.org.").Set(dns.TypeA)
	if _, err := LoadShared("example.org.", p2, old); err != nil {
		t.Fatal(err)
	}
	if got := s1.Addr(200).String(); got != "10.9.9.1" || s1.Len() != 201 {
		t.Errorf("the first zone's big A has %d records, its last now %s: want 201, the last 10.9.9.1", s1.Len(), got)
	}
	if o := old.Node("big.example.org.").Set(dns.TypeA); o.Len() != 200 {
		t.Errorf("the previous zone's big A has %d records, want 200", o.Len())
	}
}

// TestLoadSharedRandom: over random zones and random edits of them (lines
// swapped, so names split across the file, and lines added), LoadShared
// over the previous zone gives what Load gives, leaves the previous zone
// as it was, numbers its rotating sets apart, and a third generation
// over the second changes neither. (Written for a review of the address
// sets' sharing.) Half the seeds have no mixed TTLs, whose warnings send a
// file down the slow path, which shares nothing.
func TestLoadSharedRandom(t *testing.T) {
	dir := t.TempDir()
	var mixed bool
	gen := func(r *rand.Rand) string {
		var b strings.Builder
		b.WriteString("$ORIGIN example.org.\n$TTL 300\n@ SOA ns hostmaster 1 3600 900 604800 300\n@ NS ns\nns A 192.0.2.53\n")
		names := []string{"a", "b", "c", "d", "*.w", "e"}
		for range 40 {
			n := names[r.IntN(len(names))]
			ttl := ""
			if mixed && r.IntN(4) == 0 {
				ttl = "60 "
			}
			switch r.IntN(4) {
			case 0, 1:
				fmt.Fprintf(&b, "%s %sA 10.0.0.%d\n", n, ttl, r.IntN(6))
			case 2:
				fmt.Fprintf(&b, "%s %sAAAA 2001:db8::%d\n", n, ttl, r.IntN(6))
			case 3:
				fmt.Fprintf(&b, "%s %sTXT \"t%d\"\n", n, ttl, r.IntN(3))
			}
		}
		return b.String()
	}
	dump := func(z *Zone) []string {
		var out []string
		for _, rr := range z.Records() {
			out = append(out, rr.String())
		}
		return out
	}
	shared := 0
	for seed := range 600 {
		r := rand.New(rand.NewPCG(uint64(seed), 1))
		mixed = seed%2 == 1
		prevText := gen(r)
		// new text: prev with some lines changed/moved
		lines := strings.Split(strings.TrimSpace(prevText), "\n")
		for range r.IntN(4) {
			i := 5 + r.IntN(len(lines)-5)
			j := 5 + r.IntN(len(lines)-5)
			lines[i], lines[j] = lines[j], lines[i]
		}
		if r.IntN(2) == 0 {
			lines = append(lines, strings.Split(strings.TrimSpace(gen(r)), "\n")[5:][:r.IntN(5)]...)
		}
		newText := strings.Join(lines, "\n") + "\n"
		pp := filepath.Join(dir, "p.zone")
		if err := os.WriteFile(pp, []byte(prevText), 0o644); err != nil {
			t.Fatal(err)
		}
		prev, err := Load("example.org.", pp)
		if err != nil {
			continue
		}
		want := dump(prev)
		np := filepath.Join(dir, "n.zone")
		if err := os.WriteFile(np, []byte(newText), 0o644); err != nil {
			t.Fatal(err)
		}
		z, err := LoadShared("example.org.", np, prev)
		fresh, ferr := Load("example.org.", np)
		if (err == nil) != (ferr == nil) {
			t.Fatalf("seed %d: errs %v %v", seed, err, ferr)
		}
		if err != nil {
			continue
		}
		if g, w := dump(z), dump(fresh); !slices.Equal(g, w) {
			t.Fatalf("seed %d: shared\n%s\nfresh\n%s", seed, strings.Join(g, "\n"), strings.Join(w, "\n"))
		}
		if g := dump(prev); !slices.Equal(g, want) {
			t.Fatalf("seed %d: prev changed", seed)
		}
		seen := map[int32]bool{}
		for n := range z.nodes.all() {
			for _, s := range n.Sets {
				if s.gen != z.gen {
					shared++
				}
				if s.Len() > 1 {
					if s.Rot <= 0 || seen[s.Rot] || int(s.Rot) > z.Rotations() {
						t.Fatalf("seed %d: Rot %d", seed, s.Rot)
					}
					seen[s.Rot] = true
				}
			}
		}
		if z.Len() != fresh.Len() {
			t.Fatalf("seed %d: Len %d vs %d", seed, z.Len(), fresh.Len())
		}
		// chain a third generation over z
		z3, err := LoadShared("example.org.", pp, z)
		if err != nil {
			t.Fatal(err)
		}
		if g := dump(z3); !slices.Equal(g, want) {
			t.Fatalf("seed %d: gen3 differs", seed)
		}
		if g, w := dump(z), dump(fresh); !slices.Equal(g, w) {
			t.Fatalf("seed %d: gen2 changed by gen3", seed)
		}
	}
	if shared == 0 {
		t.Error("no address set was shared in any seed: the test proves nothing")
	}
}
