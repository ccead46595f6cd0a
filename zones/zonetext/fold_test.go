package zonetext

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestIndexFold: IndexFold finds what bytes.Index finds in the lower-case
// copy of random texts of the letters it must fold.
func TestIndexFold(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	alpha := []byte("kKeEyY$gG ")
	for n := 0; n < 20000; n++ {
		b := make([]byte, r.IntN(20))
		for i := range b {
			b[i] = alpha[r.IntN(len(alpha))]
		}
		for _, w := range []string{"key", "$g", "k"} {
			if got, want := IndexFold(b, w), bytes.Index(bytes.ToLower(b), []byte(w)); got != want {
				t.Fatalf("IndexFold(%q, %q) = %d, want %d", b, w, got, want)
			}
		}
	}
}
