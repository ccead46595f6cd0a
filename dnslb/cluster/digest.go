package cluster

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"
)

// ZoneHash is one zone as a node has loaded it: its serial and a digest
// of its content.
type ZoneHash struct {
	Zone   string `json:"zone"`
	Serial uint32 `json:"serial"`
	Digest string `json:"digest"`
}

// maxDigestBroadcast is the largest digest message broadcast with its
// zones (memberlist's packets are about 1,400 bytes); a larger one is
// broadcast without them, and push/pull carries them.
const maxDigestBroadcast = 1000

// SetDigests gives this node's config digest and zones (after each load)
// and gossips them.
func (c *Cluster) SetDigests(config string, zones []ZoneHash) {
	zones = slices.Clone(zones)
	slices.SortFunc(zones, func(a, b ZoneHash) int { return compareStrings(a.Zone, b.Zone) })
	h := sha256.New()
	for _, z := range zones {
		fmt.Fprintf(h, "%s %d %s\n", z.Zone, z.Serial, z.Digest)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.digestSeq = max(c.digestSeq+1, uint64(time.Now().UnixNano()))
	d := &wireDigest{Node: c.cfg.Name, Seq: c.digestSeq, Config: config, All: hex.EncodeToString(h.Sum(nil))[:16], Zones: zones}
	c.digests[c.cfg.Name] = d
	msg := encode(message{Dig: []wireDigest{*d}})
	if len(msg) > maxDigestBroadcast {
		short := *d
		short.Zones = nil
		msg = encode(message{Dig: []wireDigest{short}})
	}
	c.queue.QueueBroadcast(&broadcast{key: "d", msg: msg})
	for node := range c.digests {
		c.warnDrift(node)
	}
}

// mergeDigests takes other nodes' digests. Callers hold mu.
func (c *Cluster) mergeDigests(in []wireDigest) {
	for _, w := range in {
		if w.Node == "" || w.Node == c.cfg.Name {
			continue
		}
		cur := c.digests[w.Node]
		if cur != nil && (w.Seq < cur.Seq || (w.Seq == cur.Seq && (cur.Zones != nil || w.Zones == nil))) {
			continue
		}
		c.digests[w.Node] = &w
		c.warnDrift(w.Node)
	}
}

// warnDrift logs, once per digest, that a live member's config or zones
// differ from this node's. Callers hold mu.
func (c *Cluster) warnDrift(node string) {
	if node == c.cfg.Name {
		return
	}
	if _, live := c.members[node]; !live {
		return
	}
	d, mine := c.digests[node], c.digests[c.cfg.Name]
	if d == nil || mine == nil {
		return
	}
	diffs := c.driftOf(node)
	if len(diffs) == 0 {
		delete(c.warned, node)
		return
	}
	key := d.Config + " " + d.All + " " + mine.Config + " " + mine.All
	if c.warned[node] == key {
		return
	}
	c.warned[node] = key
	for _, s := range diffs {
		c.log.Warn("cluster drift: " + s)
	}
}

// driftOf says how node's digests differ from this node's, one line
// each. Callers hold mu.
func (c *Cluster) driftOf(node string) []string {
	d, mine := c.digests[node], c.digests[c.cfg.Name]
	if d == nil || mine == nil {
		return nil
	}
	var out []string
	if d.Config != mine.Config {
		out = append(out, fmt.Sprintf("%s has config digest %s, this node (%s) %s", node, d.Config, c.cfg.Name, mine.Config))
	}
	if d.All == mine.All {
		return out
	}
	if d.Zones == nil && len(mine.Zones) > 0 {
		return append(out, fmt.Sprintf("%s has zones digest %s, this node (%s) %s (which zones: at the next full exchange)", node, d.All, c.cfg.Name, mine.All))
	}
	theirs := map[string]ZoneHash{}
	for _, z := range d.Zones {
		theirs[z.Zone] = z
	}
	ours := map[string]ZoneHash{}
	for _, z := range mine.Zones {
		ours[z.Zone] = z
	}
	names := slices.Sorted(maps.Keys(theirs))
	for n := range ours {
		if _, ok := theirs[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		t, tok := theirs[n]
		o, ook := ours[n]
		switch {
		case !tok:
			out = append(out, fmt.Sprintf("%s does not serve zone %s", node, n))
		case !ook:
			out = append(out, fmt.Sprintf("%s serves zone %s, which this node (%s) does not", node, n, c.cfg.Name))
		case t != o:
			out = append(out, fmt.Sprintf("%s has zone %s at serial %s digest %s, this node (%s) at serial %s digest %s", node, n, strconv.FormatUint(uint64(t.Serial), 10), t.Digest, c.cfg.Name, strconv.FormatUint(uint64(o.Serial), 10), o.Digest))
		}
	}
	return out
}
