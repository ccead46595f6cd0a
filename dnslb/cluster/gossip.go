package cluster

import (
	"encoding/json"
	"net/netip"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/dnslb/dnslb/healthcheck"
)

// message is one gossip message, or a node's whole state in push/pull.
// Each part merges on its own: observations by (node, target) and
// sequence, overrides by target and (time, node, state), digests by node
// and sequence.
type message struct {
	Obs  []wireObs      `json:"o,omitempty"`
	Over []wireOverride `json:"v,omitempty"`
	Dig  []wireDigest   `json:"d,omitempty"`
}

// wireObs is one observation as gossiped.
type wireObs struct {
	Node  string `json:"n"`
	Check string `json:"c"`
	Addr  string `json:"a,omitempty"`
	State uint8  `json:"s"`
	Since int64  `json:"t"` // unix milliseconds
	Seq   uint64 `json:"q"`
}

// wireOverride is one cluster-wide override as gossiped.
type wireOverride struct {
	Target string `json:"t"`
	State  string `json:"s,omitempty"` // "": cleared
	By     string `json:"b"`
	At     int64  `json:"at"` // unix milliseconds; 0: read from a state file
}

// wireDigest is one node's digests of its config and zones. A broadcast
// leaves Zones out when they would not fit a packet; push/pull has them.
type wireDigest struct {
	Node   string     `json:"n"`
	Seq    uint64     `json:"q"`
	Config string     `json:"c"`
	All    string     `json:"a"` // of every zone's serial and digest
	Zones  []ZoneHash `json:"z,omitempty"`
}

func wire(node string, k healthcheck.Key, o *observation) wireObs {
	w := wireObs{Node: node, Check: k.Check, State: uint8(o.State), Since: o.Since.UnixMilli(), Seq: o.Seq}
	if k.Addr.IsValid() {
		w.Addr = k.Addr.String()
	}
	return w
}

func (w wireObs) parse() (healthcheck.Key, *observation, bool) {
	k := healthcheck.Key{Check: w.Check}
	if w.Addr != "" {
		a, err := netip.ParseAddr(w.Addr)
		if err != nil {
			return k, nil, false
		}
		k.Addr = a
	}
	st := healthcheck.State(w.State)
	if w.Node == "" || w.Check == "" || (st != healthcheck.Up && st != healthcheck.Down) {
		return k, nil, false
	}
	return k, &observation{State: st, Since: time.UnixMilli(w.Since), Seq: w.Seq}, true
}

func encode(m message) []byte {
	b, _ := json.Marshal(m) // plain values: cannot fail
	return b
}

// decode reads a message; a bare list is observations (the first
// version's format).
func decode(b []byte) (message, bool) {
	var m message
	if len(b) > 0 && b[0] == '[' {
		return m, json.Unmarshal(b, &m.Obs) == nil
	}
	return m, json.Unmarshal(b, &m) == nil
}

// broadcast is one message of this node; a newer one of the same key
// (an observation's target, an override's target, the digest) replaces
// it in the queue.
type broadcast struct {
	key string
	msg []byte
}

func (b *broadcast) Invalidates(other memberlist.Broadcast) bool {
	o, ok := other.(*broadcast)
	return ok && o.key == b.key
}
func (b *broadcast) Message() []byte { return b.msg }
func (b *broadcast) Finished()       {}

// delegate is the Cluster as memberlist's Delegate.
type delegate Cluster

// NodeMeta is leavingMeta once Run is ending, else nothing.
func (d *delegate) NodeMeta(limit int) []byte {
	if d.leaving.Load() {
		return []byte(leavingMeta)
	}
	return nil
}

// NotifyMsg merges a broadcast or a direct message, relaying its news.
func (d *delegate) NotifyMsg(b []byte) {
	if m, ok := decode(b); ok {
		(*Cluster)(d).mergeFrom(m, true)
	}
}

func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte {
	return d.queue.GetBroadcasts(overhead, limit)
}

// LocalState is everything this node holds, its own and others':
// merging is idempotent, so a rejoining node catches up in one exchange.
func (d *delegate) LocalState(join bool) []byte {
	c := (*Cluster)(d)
	c.mu.Lock()
	var m message
	for node, om := range c.obs {
		for k, o := range om {
			m.Obs = append(m.Obs, wire(node, k, o))
		}
	}
	for _, o := range c.over {
		m.Over = append(m.Over, *o)
	}
	for _, dg := range c.digests {
		m.Dig = append(m.Dig, *dg)
	}
	c.mu.Unlock()
	return encode(m)
}

func (d *delegate) MergeRemoteState(buf []byte, join bool) {
	if m, ok := decode(buf); ok {
		(*Cluster)(d).merge(m)
	}
}

// events is the Cluster as memberlist's EventDelegate.
type events Cluster

func (e *events) NotifyJoin(n *memberlist.Node)   { (*Cluster)(e).memberEvent(n, true) }
func (e *events) NotifyLeave(n *memberlist.Node)  { (*Cluster)(e).memberEvent(n, false) }
func (e *events) NotifyUpdate(n *memberlist.Node) { (*Cluster)(e).memberEvent(n, true) }
