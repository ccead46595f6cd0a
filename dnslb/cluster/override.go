package cluster

import (
	"maps"
	"slices"
	"time"
)

// Override is a cluster-wide operator override of a target (an address
// or a load-balanced name, as the server keys them): set on some node,
// gossiped to all, the latest winning. At is zero for one read from a
// state file at startup: any override set in the fleet since wins over it.
type Override struct {
	Target string    `json:"target"`
	State  string    `json:"state"` // "drain", "up", "down"; "" cleared
	By     string    `json:"set_by"`
	At     time.Time `json:"set_at,omitzero"`
}

// newer reports whether a wins over b: the later time, then the greater
// node name, then the greater state, so that every node picks the same
// one whatever order they arrive in.
func newer(a, b *wireOverride) bool {
	if a.At != b.At {
		return a.At > b.At
	}
	if a.By != b.By {
		return a.By > b.By
	}
	return a.State > b.State
}

// SetOverride records an override set on this node (state "" clears)
// and gossips it. apply, the caller's change of its own store, runs
// serialised with OnOverride, so that an older override being delivered
// cannot undo it. Its time is now, or just after the one it replaces
// when that is ahead of this node's clock.
func (c *Cluster) SetOverride(target, state string, apply func()) {
	c.deliverMu.Lock()
	defer c.deliverMu.Unlock()
	c.mu.Lock()
	at := time.Now().UnixMilli()
	if cur := c.over[target]; cur != nil && cur.At >= at {
		at = cur.At + 1
	}
	w := &wireOverride{Target: target, State: state, By: c.cfg.Name, At: at}
	c.over[target] = w
	delete(c.overDirty, target) // applied just below
	c.queue.QueueBroadcast(&broadcast{key: "v " + target, msg: encode(message{Over: []wireOverride{*w}})})
	c.mu.Unlock()
	if apply != nil {
		apply()
	}
}

// LoadOverrides takes the overrides a state file held at startup (target
// to state), as this node's, of no time: what the fleet set since wins.
// Call it before Start.
func (c *Cluster) LoadOverrides(over map[string]string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for t, st := range over {
		if _, ok := c.over[t]; !ok {
			c.over[t] = &wireOverride{Target: t, State: st, By: c.cfg.Name}
		}
	}
}

// mergeOverrides takes overrides from other nodes. Callers hold mu.
func (c *Cluster) mergeOverrides(in []wireOverride) {
	kick := false
	for _, w := range in {
		if w.Target == "" || w.By == "" {
			continue
		}
		cur := c.over[w.Target]
		if cur != nil && !newer(&w, cur) {
			continue
		}
		c.over[w.Target] = &w
		if cur == nil && w.State == "" {
			continue // a clear of what this node never had
		}
		if cur == nil || cur.State != w.State {
			c.overDirty[w.Target] = true
			kick = true
		}
		c.log.Info("cluster override", "target", w.Target, "state", w.State, "set_by", w.By, "set_at", time.UnixMilli(w.At))
	}
	if kick {
		select {
		case c.overKick <- struct{}{}:
		default:
		}
	}
}

// deliver gives OnOverride the overrides that changed since the last
// call, each in its latest state.
func (c *Cluster) deliver() {
	c.deliverMu.Lock()
	defer c.deliverMu.Unlock()
	c.mu.Lock()
	changed := make(map[string]string, len(c.overDirty))
	for t := range c.overDirty {
		changed[t] = c.over[t].State
	}
	clear(c.overDirty)
	c.mu.Unlock()
	if len(changed) > 0 && c.cfg.OnOverride != nil {
		c.cfg.OnOverride(changed)
	}
}

// Overrides returns every override the fleet holds, cleared ones too,
// by target.
func (c *Cluster) Overrides() []Override {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.overrides()
}

func (c *Cluster) overrides() []Override {
	out := make([]Override, 0, len(c.over))
	for _, t := range slices.Sorted(maps.Keys(c.over)) {
		w := c.over[t]
		o := Override{Target: t, State: w.State, By: w.By}
		if w.At != 0 {
			o.At = time.UnixMilli(w.At)
		}
		out = append(out, o)
	}
	return out
}
