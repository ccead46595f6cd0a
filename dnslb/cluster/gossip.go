package cluster

import (
	"encoding/json"
	"net/netip"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/dnslb/dnslb/healthcheck"
)

// wireObs is one observation as gossiped.
type wireObs struct {
	Node  string `json:"n"`
	Check string `json:"c"`
	Addr  string `json:"a,omitempty"`
	State uint8  `json:"s"`
	Since int64  `json:"t"` // unix milliseconds
	Seq   uint64 `json:"q"`
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

func encode(ws []wireObs) []byte {
	b, _ := json.Marshal(ws) // plain values: cannot fail
	return b
}

// broadcast is one observation of this node; a newer one of the same
// target replaces it in the queue.
type broadcast struct {
	key healthcheck.Key
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

func (d *delegate) NodeMeta(limit int) []byte { return nil }

func (d *delegate) NotifyMsg(b []byte) {
	var ws []wireObs
	if json.Unmarshal(b, &ws) == nil {
		(*Cluster)(d).merge(ws)
	}
}

func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte {
	return d.queue.GetBroadcasts(overhead, limit)
}

// LocalState is every observation this node holds, its own and others':
// merging is idempotent, so a rejoining node catches up in one exchange.
func (d *delegate) LocalState(join bool) []byte {
	c := (*Cluster)(d)
	c.mu.Lock()
	var ws []wireObs
	for node, m := range c.obs {
		for k, o := range m {
			ws = append(ws, wire(node, k, o))
		}
	}
	c.mu.Unlock()
	return encode(ws)
}

func (d *delegate) MergeRemoteState(buf []byte, join bool) { d.NotifyMsg(buf) }

// events is the Cluster as memberlist's EventDelegate.
type events Cluster

func (e *events) NotifyJoin(n *memberlist.Node)   { (*Cluster)(e).memberEvent(n, true) }
func (e *events) NotifyLeave(n *memberlist.Node)  { (*Cluster)(e).memberEvent(n, false) }
func (e *events) NotifyUpdate(n *memberlist.Node) { (*Cluster)(e).memberEvent(n, true) }
