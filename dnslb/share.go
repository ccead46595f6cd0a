package dnslb

import (
	"maps"
	"net/netip"
	"slices"

	"github.com/dnslb/dnslb/dnslb/config"
	"github.com/dnslb/dnslb/dnslb/state"
)

// sharesOf estimates, for each address of a load-balanced name, the share
// of the name's answers that lead with it now: the address's weight
// (pick = "weighted": its own, else its group's, else 1; any other pick:
// 1) over the weights of the addresses of its family that are up. Down
// and drained addresses get 0. It reads the config and the snapshot's
// health, not counted answers: a geo, nearest or failover name sends each
// client to one group, and this is the share over the whole name.
func sharesOf(v *state.NameView) map[netip.Addr]float64 {
	nc := v.Config
	weight := func(a netip.Addr) float64 {
		if nc.Pick != "weighted" {
			return 1
		}
		if w, ok := nc.Weights[a.String()]; ok && w > 0 {
			return float64(w)
		}
		if g := groupOf(nc, a); g != "" && nc.Groups[g].Weight > 0 {
			return float64(nc.Groups[g].Weight)
		}
		return 1
	}
	var sum [2]float64 // 0 IPv4, 1 IPv6
	out := make(map[netip.Addr]float64, len(v.Addrs))
	for _, a := range v.Addrs {
		out[a] = 0
		if v.Up(a) {
			sum[family(a)] += weight(a)
		}
	}
	for _, a := range v.Addrs {
		if v.Up(a) && sum[family(a)] > 0 {
			out[a] = weight(a) / sum[family(a)]
		}
	}
	return out
}

func family(a netip.Addr) int {
	if a.Is6() {
		return 1
	}
	return 0
}

// groupOf names the config group an address belongs to, if any.
func groupOf(nc config.NameConfig, a netip.Addr) string {
	for _, g := range slices.Sorted(maps.Keys(nc.Groups)) {
		for _, s := range nc.Groups[g].Addresses {
			if p, err := netip.ParseAddr(s); err == nil && p == a {
				return g
			}
		}
	}
	return ""
}
