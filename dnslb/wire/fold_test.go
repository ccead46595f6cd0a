package wire

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/miekg/dns"
)

// TestUpper8 checks the word-at-a-time test for upper-case letters against
// the byte-at-a-time one: every byte value in every position, beside
// random neighbours.
func TestUpper8(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for b := range 256 {
		for pos := range 8 {
			var w [8]byte
			for i := range w {
				w[i] = byte(r.UintN(256))
			}
			w[pos] = byte(b)
			got := upper8(binary.LittleEndian.Uint64(w[:]))
			for i, c := range w {
				want := c >= 'A' && c <= 'Z'
				if bit := got >> (8 * i) & 0xff; (bit == 0x80) != want || bit != 0 && bit != 0x80 {
					t.Fatalf("upper8(% x): byte %d (%#x) gives %#x, want upper=%v", w, i, c, bit, want)
				}
			}
		}
	}
}

// TestParseFoldsCase checks the memo key of names of every length and
// case: the name in lower case, Mixed set when any letter was upper case.
func TestParseFoldsCase(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_@["
	for n := range 2000 {
		var name []byte
		for range 1 + n%5 {
			l := 1 + r.IntN(20)
			for range l {
				name = append(name, chars[r.IntN(len(chars))])
			}
			name = append(name, '.')
		}
		m := new(dns.Msg)
		m.SetQuestion(string(name), dns.TypeA)
		pkt, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		var q Query
		if !q.Parse(pkt, make([]byte, KeyMax)) {
			t.Fatalf("%s: not parsed", name)
		}
		wire := pkt[12 : len(pkt)-4]
		lower := bytes.ToLower(wire)
		if got := q.Key[:len(wire)]; !bytes.Equal(got, lower) {
			t.Fatalf("%s: key %q, want %q", name, got, lower)
		}
		if mixed := !bytes.Equal(wire, lower); q.Mixed != mixed {
			t.Fatalf("%s: Mixed = %v, want %v", name, q.Mixed, mixed)
		}
		if !bytes.Equal(q.Qname, wire) {
			t.Fatalf("%s: Qname changed: %q", name, q.Qname)
		}
	}
}
