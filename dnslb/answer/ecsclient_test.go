package answer

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"
)

// TestECSClient checks the client address and source prefix taken from an
// ECS option against netip's masking, for every IPv4 prefix length and
// IPv6 ones around the cap.
func TestECSClient(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 200 {
		for bits := range 129 {
			v6 := bits > 32 || r.IntN(2) == 0
			fam, max, n := uint16(1), MaxECSv4, 4
			if v6 {
				fam, max, n = 2, MaxECSv6, 16
			}
			if bits > 8*n {
				continue
			}
			var a [16]byte
			for i := range a[:n] {
				a[i] = byte(r.UintN(256))
			}
			addr := netip.AddrFrom16(a)
			if !v6 {
				addr = netip.AddrFrom4([4]byte(a[:4]))
			}
			addr = netip.PrefixFrom(addr, bits).Masked().Addr() // as ValidECS has it: no bits past the prefix
			raw := addr.AsSlice()[:(bits+7)/8]
			opt := binary.BigEndian.AppendUint16(nil, 8)
			opt = binary.BigEndian.AppendUint16(opt, uint16(4+len(raw)))
			opt = binary.BigEndian.AppendUint16(opt, fam)
			opt = append(opt, byte(bits), 0)
			opt = append(opt, raw...)
			got, gotBits := ecsClient(opt)
			wantBits := min(bits, max)
			want := netip.PrefixFrom(addr, wantBits).Masked().Addr()
			if got != want || gotBits != wantBits {
				t.Fatalf("ecsClient(%s/%d) = %s/%d, want %s/%d", addr, bits, got, gotBits, want, wantBits)
			}
		}
	}
}
