package state

import (
	"strings"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/config"
	"github.com/dnslb/dnslb/zones"
)

// nearZone is " (did you mean X?)" for a name outside every zone whose
// last labels are a near miss of a zone's origin: www.exmaple.org. for
// the zone example.org. gives www.example.org.; else "".
func nearZone(zs []*zones.Zone, owner string) string {
	labels := dns.SplitDomainName(owner)
	var options []string
	for _, z := range zs {
		n := dns.CountLabel(z.Origin)
		if n == 0 || n > len(labels) {
			continue
		}
		suffix := strings.Join(labels[len(labels)-n:], ".") + "."
		if config.Suggest(suffix, []string{z.Origin}) != "" {
			options = append(options, strings.Join(append(labels[:len(labels)-n:len(labels)-n], z.Origin), "."))
		}
	}
	if len(options) == 0 {
		return ""
	}
	return config.Suggest(owner, options)
}
