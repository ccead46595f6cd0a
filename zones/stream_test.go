package zones

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/dnslb/dnslb/zones/zonetext"
)

// TestScanStream: read in pieces of any size, scanStream says what
// needsSlow, closed and a count of lines say of the whole text.
func TestScanStream(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	words := []string{"$GENERATE", "$generate", "ipSECkey", "key1", "KEY", "$include", "(", ")", `"`, ";", "\\", "\n", " ", "a", "1"}
	for n := 0; n < 5000; n++ {
		var b bytes.Buffer
		for range r.IntN(12) {
			b.WriteString(words[r.IntN(len(words))])
		}
		data := b.Bytes()
		wantOK := !needsSlow("x.zone", data, 0) && !zonetext.ContainsFold(data, "$include") && closed(data)
		for _, piece := range []int{1, 2, 3, 7, 64} {
			lines, ok := scanStream(bytes.NewReader(data), piece)
			if ok != wantOK || ok && lines != bytes.Count(data, []byte{'\n'})+1 {
				t.Fatalf("scanStream(%q, %d) = %d, %v; want %d, %v", data, piece, lines, ok, bytes.Count(data, []byte{'\n'})+1, wantOK)
			}
		}
	}
}
