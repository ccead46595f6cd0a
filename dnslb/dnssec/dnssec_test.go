package dnssec

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestKeyFilesRoundTrip(t *testing.T) {
	for _, alg := range Algorithms {
		dir := t.TempDir()
		k, err := Generate("example.org", alg, true)
		if err != nil {
			t.Fatal(err)
		}
		base, err := k.Write(dir)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(base + ".private")
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("alg %d: private file mode %v, err %v; want 0600", alg, fi.Mode().Perm(), err)
		}
		if want := filepath.Join(dir, "Kexample.org.+0"); !strings.HasPrefix(base, want) {
			t.Errorf("alg %d: base %s, want prefix %s", alg, base, want)
		}
		got, err := Read(base+".key", "example.org.")
		if err != nil {
			t.Fatalf("alg %d: %v", alg, err)
		}
		if got.Tag() != k.Tag() || !got.KSK() {
			t.Errorf("alg %d: read tag %d ksk %v, want %d true", alg, got.Tag(), got.KSK(), k.Tag())
		}
		keys, errs := ReadDir(dir, "example.org")
		if len(keys) != 1 || len(errs) != 0 {
			t.Errorf("alg %d: ReadDir: %d keys, errors %v", alg, len(keys), errs)
		}
		if _, err := k.Write(dir); err == nil {
			t.Errorf("alg %d: Write overwrote existing files", alg)
		}
	}
}

func TestReadRefuses(t *testing.T) {
	dir := t.TempDir()
	k, err := Generate("example.org.", dns.ED25519, false)
	if err != nil {
		t.Fatal(err)
	}
	base, err := k.Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Read(base, "example.com."); err == nil || !strings.Contains(err.Error(), "key of zone example.org., not example.com.") ||
		!strings.HasPrefix(err.Error(), base+".key:2:") {
		t.Errorf("wrong zone: %v", err)
	}
	if err := os.Chmod(base+".private", 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(base, "example.org."); err == nil || !strings.Contains(err.Error(), "readable by others") {
		t.Errorf("mode 0644: %v", err)
	}
	if _, err := Read(filepath.Join(dir, "Kmissing.+015+00001"), ""); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing: %v", err)
	}
	// An RSA key: not an algorithm dnslb signs with.
	rsa := filepath.Join(dir, "Kexample.org.+008+00001")
	if err := os.WriteFile(rsa+".key", []byte("example.org. IN DNSKEY 257 3 8 AwEAAa==\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(rsa, "example.org."); err == nil || !strings.Contains(err.Error(), "algorithm 8") || !strings.HasPrefix(err.Error(), rsa+".key:1:") {
		t.Errorf("algorithm 8: %v", err)
	}
}

// TestBINDKeys loads keys that BIND's dnssec-keygen made, as they are.
func TestBINDKeys(t *testing.T) {
	bin, err := exec.LookPath("dnssec-keygen")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("dnssec-keygen (bind9) not installed")
		}
		t.Skip("dnssec-keygen not installed")
	}
	for _, alg := range []string{"ECDSAP256SHA256", "ED25519"} {
		dir := t.TempDir()
		out, err := exec.Command(bin, "-K", dir, "-a", alg, "-f", "KSK", "-n", "ZONE", "example.org").CombinedOutput()
		if err != nil {
			t.Fatalf("dnssec-keygen %s: %v: %s", alg, err, out)
		}
		keys, errs := ReadDir(dir, "example.org.")
		if len(errs) != 0 || len(keys) != 1 {
			t.Fatalf("%s: %d keys, errors %v", alg, len(keys), errs)
		}
		s, err := NewSigner("example.org.", keys, 0)
		if err != nil {
			t.Fatal(err)
		}
		sigs, err := s.Sign(s.DNSKEY(), time.Now())
		if err != nil || len(sigs) != 1 {
			t.Fatalf("%s: sign DNSKEY: %v", alg, err)
		}
		if err := sigs[0].Verify(keys[0].DNSKEY, s.DNSKEY()); err != nil {
			t.Errorf("%s: signature does not verify: %v", alg, err)
		}
	}
}

func TestSignCache(t *testing.T) {
	ksk, _ := Generate("example.org.", dns.ECDSAP256SHA256, true)
	zsk, _ := Generate("example.org.", dns.ECDSAP256SHA256, false)
	s, err := NewSigner("example.org.", []*Key{ksk, zsk}, 3600)
	if err != nil {
		t.Fatal(err)
	}
	a1, _ := dns.NewRR("www.example.org. 300 IN A 192.0.2.1")
	a2, _ := dns.NewRR("www.example.org. 300 IN A 192.0.2.2")
	now := time.Date(2026, 12, 2, 17, 30, 0, 0, time.UTC)
	sig1, err := s.Sign([]dns.RR{a1, a2}, now)
	if err != nil || len(sig1) != 1 {
		t.Fatal(err)
	}
	if sig1[0].KeyTag != zsk.Tag() {
		t.Errorf("A signed by key %d, want the ZSK %d", sig1[0].KeyTag, zsk.Tag())
	}
	if err := sig1[0].Verify(zsk.DNSKEY, []dns.RR{a2, a1}); err != nil {
		t.Errorf("verify in the other order: %v", err)
	}
	in, ex := Window(now)
	if want := uint32(time.Date(2026, 12, 2, 16, 0, 0, 0, time.UTC).Unix()); in != want || sig1[0].Inception != in || sig1[0].Expiration != ex {
		t.Errorf("window %d..%d, want inception %d", sig1[0].Inception, sig1[0].Expiration, want)
	}
	sig2, _ := s.Sign([]dns.RR{a2, a1}, now.Add(20*time.Minute))
	if sig2[0] != sig1[0] {
		t.Error("the rotated RRset in the same window was signed again")
	}
	if st := s.Stats(); st.Made != 1 || st.Hits != 1 {
		t.Errorf("stats %+v, want 1 made 1 hit", st)
	}
	if sig3, _ := s.Sign([]dns.RR{a1, a2}, now.Add(time.Hour)); sig3[0] == sig1[0] {
		t.Error("the next window reused the old signature")
	}
	k, _ := s.Sign(s.DNSKEY(), now)
	if len(k) != 1 || k[0].KeyTag != ksk.Tag() {
		t.Errorf("DNSKEY signed by %v, want the KSK %d", k, ksk.Tag())
	}
	s.SetCacheSize(4)
	for i := range 20 {
		rr, _ := dns.NewRR("n" + string(rune('a'+i)) + ".example.org. 300 IN A 192.0.2.1")
		_, _ = s.Sign([]dns.RR{rr}, now.Add(time.Hour))
	}
	if st := s.Stats(); st.Cached > 4 {
		t.Errorf("cache holds %d RRsets, bound 4", st.Cached)
	}
}

func TestNSEC(t *testing.T) {
	n := NSEC("nx.example.org.", nil, 300)
	msg := new(dns.Msg)
	msg.Answer = []dns.RR{n}
	buf, err := msg.Pack()
	if err != nil {
		t.Fatal(err)
	}
	var back dns.Msg
	if err := back.Unpack(buf); err != nil {
		t.Fatal(err)
	}
	got := back.Answer[0].(*dns.NSEC)
	if got.NextDomain != `\000.nx.example.org.` {
		t.Errorf("next %q", got.NextDomain)
	}
	if len(got.TypeBitMap) != 3 || got.TypeBitMap[2] != dns.TypeNXNAME {
		t.Errorf("bitmap %v, want RRSIG NSEC NXNAME", got.TypeBitMap)
	}
	if d := NSEC("www.example.org.", []uint16{dns.TypeA, dns.TypeAAAA}, 300); len(d.TypeBitMap) != 4 || d.TypeBitMap[0] != dns.TypeA {
		t.Errorf("NODATA bitmap %v", d.TypeBitMap)
	}
}

// BenchmarkSign is the cost of one RRset's signature: cold (a new
// signature each time: the algorithm's own cost) and warm (from the
// cache: the canonical key and a map read). The cold runs report
// sigs/s, signatures a second on one core (the benchmark runs on one
// goroutine): the cold cost bench/README.md states per algorithm.
func BenchmarkSign(b *testing.B) {
	a1, _ := dns.NewRR("www.example.org. 300 IN A 192.0.2.1")
	a2, _ := dns.NewRR("www.example.org. 300 IN A 192.0.2.2")
	set := []dns.RR{a1, a2}
	for _, alg := range Algorithms {
		k, _ := Generate("example.org.", alg, true)
		s, _ := NewSigner("example.org.", []*Key{k}, 0)
		now := time.Now()
		b.Run(dns.AlgorithmToString[alg]+"/cold", func(b *testing.B) {
			for b.Loop() {
				s.Flush()
				if _, err := s.Sign(set, now); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sigs/s")
		})
		b.Run(dns.AlgorithmToString[alg]+"/warm", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Sign(set, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestSignShared: workers sign the generation's shared records at once
// (run with -race: nothing in them is written).
func TestSignShared(t *testing.T) {
	k, _ := Generate("example.org.", dns.ED25519, true)
	s, _ := NewSigner("example.org.", []*Key{k}, 0)
	a1, _ := dns.NewRR("www.example.org. 300 IN A 192.0.2.1")
	a2, _ := dns.NewRR("www.example.org. 300 IN A 192.0.2.2")
	a3, _ := dns.NewRR("www.example.org. 300 IN A 192.0.2.3")
	if canonicalKey([]dns.RR{a1, a2}) != canonicalKey([]dns.RR{a2, a1}) || canonicalKey([]dns.RR{a1, a2}) == canonicalKey([]dns.RR{a1, a3}) {
		t.Error("canonicalKey: orders differ or sets collide")
	}
	done := make(chan error)
	for i := range 4 {
		go func() {
			var err error
			for j := range 50 {
				if j%10 == 0 {
					s.Flush()
				}
				set := []dns.RR{a1, a2, a3}
				if i%2 == 1 {
					set = []dns.RR{a3, a1, a2}
				}
				var sigs []*dns.RRSIG
				if sigs, err = s.Sign(set, time.Now()); err == nil {
					err = sigs[0].Verify(k.DNSKEY, set)
				}
				if err != nil {
					break
				}
			}
			done <- err
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// TestAdopt: the signer of a reload, from the same key files read again,
// keeps the old signer's cache and counts (the RRset signed before is not
// signed again); a signer with another key keeps the counts only and signs
// anew, with its own key.
func TestAdopt(t *testing.T) {
	dir := t.TempDir()
	k, _ := Generate("example.org.", dns.ED25519, true)
	base, err := k.Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	load := func(keys ...*Key) *Signer {
		s, err := NewSigner("example.org.", keys, 3600)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	read := func() *Key {
		k, err := Read(base, "example.org.")
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	a, _ := dns.NewRR("www.example.org. 300 IN A 192.0.2.1")
	now := time.Now()
	old := load(read())
	sig, err := old.Sign([]dns.RR{a}, now)
	if err != nil {
		t.Fatal(err)
	}
	same := load(read())
	if !same.Adopt(old) {
		t.Fatal("Adopt with the same key files did not keep the cache")
	}
	again, _ := same.Sign([]dns.RR{a}, now)
	if st := same.Stats(); st.Made != 1 || st.Hits != 1 || again[0] != sig[0] {
		t.Errorf("after Adopt: stats %+v (want 1 made, 1 hit), same signature %v", st, again[0] == sig[0])
	}
	other, _ := Generate("example.org.", dns.ED25519, true)
	rolled := load(other)
	if rolled.Adopt(same) {
		t.Error("Adopt kept the cache of another key")
	}
	s2, _ := rolled.Sign([]dns.RR{a}, now)
	if st := rolled.Stats(); st.Made != 2 || st.Hits != 1 || s2[0].KeyTag != other.Tag() {
		t.Errorf("new key: stats %+v (want 2 made, 1 hit), signed by %d, want %d", st, s2[0].KeyTag, other.Tag())
	}
	if err := s2[0].Verify(other.DNSKEY, []dns.RR{a}); err != nil {
		t.Errorf("new key's signature: %v", err)
	}
	if load(read()).Adopt(load(read(), other)) {
		t.Error("Adopt kept the cache of a signer with one more key")
	}
}
