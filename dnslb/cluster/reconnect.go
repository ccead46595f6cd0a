package cluster

import (
	"math/rand/v2"
	"slices"
	"time"
)

// Reconnecting failed members, as Serf does. memberlist gossips and
// pushes/pulls only with members it holds alive (gossip reaches the dead
// for a while, push/pull never), and a member refutes being dead only when
// it hears of it. After a partition heals, each side holds the other dead:
// the majority side, not alone, never joins anyone, and the cut-off side
// joins only its seeds, so a member held dead on both sides stays so until
// a periodic push/pull happens to pair them (30 s in the LAN config, and
// only between members already alive to each other). So every node tries,
// every reconnectEvery, a join of a few of the members that failed — died,
// not left gracefully — at the address they had. A join is one push/pull:
// both ends learn they are held dead, refute it, and gossip takes it on.

const (
	// reconnectEvery is how often failed members are tried.
	reconnectEvery = time.Second
	// reconnectBatch is how many failed members (at random) one try joins:
	// work per second stays bounded whatever the number of failed members.
	reconnectBatch = 3
	// reconnectFor is how long a failed member is tried, as Serf's
	// ReconnectTimeout: a partition between sites may last hours, and one
	// connection a second to a gone address costs nothing next to a fleet
	// that stays split until an operator restarts a node. A member that
	// rejoins is forgotten at once; one that left gracefully is never tried.
	reconnectFor = 24 * time.Hour
)

// leavingMeta is the node meta a member gossips just before it leaves
// gracefully: memberlist v0.7's NotifyLeave does not tell a leave from a
// death (the Node it gives has no State set), but it gives the member's
// last meta.
const leavingMeta = "leaving"

// rejoinAddrs is the addresses to join now: a few failed members' at
// random, and the seeds while this node is alone.
func (c *Cluster) rejoinAddrs(now time.Time) []string {
	c.mu.Lock()
	var failed []string
	for _, g := range c.gone {
		if g.state == "dead" && now.Sub(g.at) < reconnectFor && g.addr != "" {
			failed = append(failed, g.addr)
		}
	}
	c.mu.Unlock()
	rand.Shuffle(len(failed), func(i, j int) { failed[i], failed[j] = failed[j], failed[i] })
	addrs := failed[:min(reconnectBatch, len(failed))]
	if c.nodes.Load() == 1 {
		for _, s := range c.cfg.Seeds {
			if !slices.Contains(addrs, s) {
				addrs = append(addrs, s)
			}
		}
	}
	return addrs
}

// rejoin joins each address of rejoinAddrs off Run's loop, each in its
// own goroutine: a join to an unreachable address blocks until a SYN gets
// through or the TCP timeout (10 s), and must hold neither the loop nor
// the other addresses. An address whose join is still running is skipped,
// so at most one join per address is under way.
func (c *Cluster) rejoin(now time.Time) {
	for _, a := range c.rejoinAddrs(now) {
		c.joinMu.Lock()
		busy := c.joining[a]
		if !busy {
			if c.joining == nil {
				c.joining = map[string]bool{}
			}
			c.joining[a] = true
		}
		c.joinMu.Unlock()
		if busy {
			continue
		}
		c.joins.Add(1)
		go func() {
			defer c.joins.Done()
			if _, err := c.ml.Join([]string{a}); err != nil {
				c.log.Debug("cluster rejoin", "address", a, "err", err)
			}
			c.joinMu.Lock()
			delete(c.joining, a)
			c.joinMu.Unlock()
		}()
	}
}
