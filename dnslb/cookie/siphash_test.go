package cookie

import "testing"

// TestSipHash24 checks the reference vectors of SipHash's paper
// (Appendix A) and reference code (vectors.h, key 00..0f, message
// 00..len-1): the empty message and the paper's 15-byte example, and
// the 8- and 16-byte ones that end on a word.
func TestSipHash24(t *testing.T) {
	var k Secret
	for i := range k {
		k[i] = byte(i)
	}
	msg := make([]byte, 64)
	for i := range msg {
		msg[i] = byte(i)
	}
	for _, tc := range []struct {
		n    int
		want uint64
	}{
		{0, 0x726fdb47dd0e0e31},
		{1, 0x74f839c593dc67fd},
		{7, 0xab0200f58b01d137},
		{8, 0x93f5f5799a932462},
		{15, 0xa129ca6149be45e5},
		{16, 0x3f2acc7f57c29bdb},
		{63, 0x958a324ceb064572},
	} {
		if got := sipHash24(&k, msg[:tc.n]); got != tc.want {
			t.Errorf("sipHash24(00..%02x) = %#016x, want %#016x", tc.n-1, got, tc.want)
		}
	}
}

func BenchmarkSipHash24(b *testing.B) {
	var k Secret
	msg := make([]byte, 32)
	b.ReportAllocs()
	for b.Loop() {
		msg[0] = byte(sipHash24(&k, msg))
	}
}
