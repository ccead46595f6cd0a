package policy

import "math"

// earthRadiusKm is the mean Earth radius used by haversine.
const earthRadiusKm = 6371.0

func radians(deg float64) float64 { return deg * math.Pi / 180 }

// haversine returns the great-circle distance in km between two points given
// in radians.
func haversine(lat1, lon1, lat2, lon2 float64) float64 {
	sinLat := math.Sin((lat2 - lat1) / 2)
	sinLon := math.Sin((lon2 - lon1) / 2)
	h := sinLat*sinLat + math.Cos(lat1)*math.Cos(lat2)*sinLon*sinLon
	return 2 * earthRadiusKm * math.Asin(math.Sqrt(min(h, 1)))
}

// chooseNearest tries the groups by distance from the client's GeoIP
// location, nearest first. Clients without coordinates get the default
// group, then the groups of `order`, then every address. The scope is the
// GeoIP network's prefix length: every client in it has the same location.
func (p *Policy) chooseNearest(q *Query, health Health, loc Locator, cands []uint16, tr *trace) (int, []uint16, int) {
	var l Location
	if loc != nil {
		l, _ = p.locate(loc, q.Client, tr)
	} else if tr != nil {
		tr.location(q.Client, l, false)
	}
	if !l.HasCoords {
		return p.nearestFallback(q, health, cands, l.Prefix, tr)
	}
	lat, lon := radians(l.Lat), radians(l.Lon)
	var km [maxGroups]float64
	for i := range p.groups {
		km[i] = haversine(lat, lon, p.groups[i].lat, p.groups[i].lon)
	}
	var tried uint64 // bit i: group i tried; groups are at most maxGroups
	for range p.groups {
		best := -1
		for i := range p.groups {
			if tried&(1<<i) == 0 && (best < 0 || km[i] < km[best]) {
				best = i
			}
		}
		tried |= 1 << best
		if c, ok := p.try(best, q.Family, health, cands, reason{kind: "nearest", km: km[best]}, tr); ok {
			return best, c, l.Prefix
		}
	}
	return noGroup, cands, l.Prefix
}

func (p *Policy) nearestFallback(q *Query, health Health, cands []uint16, scope int, tr *trace) (int, []uint16, int) {
	if p.dflt >= 0 {
		if c, ok := p.try(p.dflt, q.Family, health, cands, reason{kind: "default (client has no location)"}, tr); ok {
			return p.dflt, c, scope
		}
	}
	for _, gi := range p.order {
		if c, ok := p.try(gi, q.Family, health, cands, reason{kind: "order (client has no location)"}, tr); ok {
			return gi, c, scope
		}
	}
	if c, ok := p.try(allGroup, q.Family, health, cands, reason{kind: "all addresses (client has no location)"}, tr); ok {
		return allGroup, c, scope
	}
	return noGroup, cands, scope
}

// NearestOrder returns the names of the groups ordered by distance from the
// point (lat, lon) in degrees, nearest first, ignoring health. It is meant
// for explain and tests, and allocates.
func (p *Policy) NearestOrder(lat, lon float64) []string {
	type gd struct {
		name string
		km   float64
	}
	var all []gd
	for _, g := range p.groups {
		if g.hasLoc {
			all = append(all, gd{g.name, haversine(radians(lat), radians(lon), g.lat, g.lon)})
		}
	}
	for i := 1; i < len(all); i++ {
		for j := i; j > 0 && all[j].km < all[j-1].km; j-- {
			all[j], all[j-1] = all[j-1], all[j]
		}
	}
	names := make([]string, len(all))
	for i, x := range all {
		names[i] = x.name
	}
	return names
}
