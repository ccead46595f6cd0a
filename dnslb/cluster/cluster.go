package cluster

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/dnslb/dnslb/healthcheck"
)

// Config configures a Cluster.
type Config struct {
	Name  string     // this node's name, unique in the fleet
	Bind  netip.Addr // gossip's address, TCP and UDP
	Port  int
	Seeds []string // "address:port" of other nodes
	Key   []byte   // AES-GCM key of 16, 24 or 32 bytes; nil: no encryption
	// Probers is how many nodes probe each target (capped at the live
	// members); Quorum(n) how many of n probers must say up.
	Probers int
	Quorum  func(n int) int
	Log     *slog.Logger
	// OnVerdict is called, serialised, when a target's verdict changes. It
	// must not call the Cluster.
	OnVerdict func(healthcheck.Key, healthcheck.State)
	// OnMembers is called from Run when the members changed, so the caller
	// can tell its prober which targets are now local (Local).
	OnMembers func()
	// OnOverride is called from Run, serialised with SetOverride's apply,
	// with the overrides other nodes set (target to state, "" cleared)
	// that changed what this node holds.
	OnOverride func(map[string]string)
	// Sweep is how often verdicts are recomputed for staleness (default 500ms).
	Sweep time.Duration
}

// Cluster is one node's view of the fleet. Its goroutines (memberlist's)
// run between Start and the end of Run.
type Cluster struct {
	cfg   Config
	log   *slog.Logger
	ml    *memberlist.Memberlist
	queue *memberlist.TransmitLimitedQueue
	nodes atomic.Int32 // live members, for the queue's retransmit count
	heard atomic.Uint64
	kick  chan struct{} // members changed
	// overKick: overrides from other nodes wait in overDirty.
	overKick chan struct{}
	// deliverMu serialises OnOverride with SetOverride's apply.
	deliverMu sync.Mutex
	drop      atomic.Pointer[func(netip.Addr) bool]
	bytesIn   atomic.Uint64
	bytesOut  atomic.Uint64
	// closed: Run has ended; memberlist's timers may still fire events,
	// which are then ignored.
	closed atomic.Bool
	// leaving: Run is ending; the node meta says so (leavingMeta).
	leaving atomic.Bool
	// joining is the addresses a rejoin is joining; joins waits for
	// them at Run's end.
	joinMu  sync.Mutex
	joining map[string]bool
	joins   sync.WaitGroup

	// mu guards the fields below; OnVerdict is called holding it.
	mu       sync.Mutex
	members  map[string]string // live member name → gossip address
	obs      map[string]map[healthcheck.Key]*observation
	targets  map[healthcheck.Key]time.Duration // stale bound per target
	verdicts map[healthcheck.Key]healthcheck.State
	lastSeq  uint64
	merged   map[string]time.Time // member → last observation merged from it
	// over is the cluster-wide overrides by target, cleared ones kept (a
	// clear must win over an older set arriving late).
	over      map[string]*wireOverride
	overDirty map[string]bool
	// digests is each node's (this one's too) config and zone digests.
	digests   map[string]*wireDigest
	digestSeq uint64
	warned    map[string]string   // node → the digest last warned about
	gone      map[string]goneNode // members that left or died, capped
}

// goneNode is a member that is no longer live.
type goneNode struct {
	addr  string
	state string // "left" or "dead"
	at    time.Time
}

// maxGone caps the members the status remembers after they went.
const maxGone = 64

// observation is one node's view of one target.
type observation struct {
	State healthcheck.State
	Since time.Time
	Seq   uint64
	heard time.Time // local time its Seq was first heard
}

// New returns a Cluster alone: until Start and a join, every target is local.
func New(cfg Config) *Cluster {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Quorum == nil {
		cfg.Quorum = func(n int) int { return n/2 + 1 }
	}
	if cfg.Probers < 1 {
		cfg.Probers = 3
	}
	if cfg.Sweep <= 0 {
		cfg.Sweep = 500 * time.Millisecond
	}
	c := &Cluster{
		cfg:      cfg,
		log:      cfg.Log,
		kick:     make(chan struct{}, 1),
		overKick: make(chan struct{}, 1),
		members:  map[string]string{cfg.Name: net.JoinHostPort(cfg.Bind.String(), strconv.Itoa(cfg.Port))},
		obs:      map[string]map[healthcheck.Key]*observation{},
		targets:  map[healthcheck.Key]time.Duration{},
		verdicts: map[healthcheck.Key]healthcheck.State{},
		merged:   map[string]time.Time{},

		over:      map[string]*wireOverride{},
		overDirty: map[string]bool{},
		digests:   map[string]*wireDigest{},
		warned:    map[string]string{},
		gone:      map[string]goneNode{},
	}
	c.nodes.Store(1)
	c.queue = &memberlist.TransmitLimitedQueue{NumNodes: func() int { return int(c.nodes.Load()) }, RetransmitMult: 3}
	return c
}

// Start opens the gossip sockets. Run must follow (it stops them).
func (c *Cluster) Start() error {
	// The LAN timings even on loopback: the local ones (200 ms probe
	// timeouts) mark a node on a busy host dead.
	mc := memberlist.DefaultLANConfig()
	mc.Name = c.cfg.Name
	mc.BindAddr, mc.BindPort = c.cfg.Bind.String(), c.cfg.Port
	mc.AdvertiseAddr, mc.AdvertisePort = c.cfg.Bind.String(), c.cfg.Port
	mc.SecretKey = c.cfg.Key
	mc.Delegate = (*delegate)(c)
	mc.Events = (*events)(c)
	mc.Logger = slog.NewLogLogger(c.log.Handler(), slog.LevelDebug)
	where := net.JoinHostPort(mc.BindAddr, strconv.Itoa(mc.BindPort))
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{BindAddrs: []string{mc.BindAddr}, BindPort: mc.BindPort, Logger: mc.Logger})
	if err != nil {
		return fmt.Errorf("cluster: cannot start gossip on %s: %w", where, err)
	}
	mc.Transport = newTransport(c, nt)
	ml, err := memberlist.Create(mc)
	if err != nil {
		_ = mc.Transport.Shutdown()
		return fmt.Errorf("cluster: cannot start gossip on %s: %w", where, err)
	}
	c.ml = ml
	return nil
}

// Run joins the seeds (again every second while alone), tries every
// second to join a few members that failed (reconnect.go), recomputes the
// verdicts every Sweep, and calls OnMembers after membership changes. When
// ctx is done it leaves the fleet, stops gossip and returns.
func (c *Cluster) Run(ctx context.Context) error {
	if c.ml == nil {
		return errors.New("cluster: Run before Start")
	}
	defer func() {
		// First the meta that tells the others this is a leave, not a
		// death they should reconnect to.
		c.leaving.Store(true)
		if err := c.ml.UpdateNode(time.Second); err != nil {
			c.log.Debug("cluster leave", "err", err)
		}
		if err := c.ml.Leave(time.Second); err != nil {
			c.log.Warn("cluster leave", "err", err)
		}
		_ = c.ml.Shutdown() // ends a rejoin's dials
		c.joins.Wait()
		c.closed.Store(true)
	}()
	c.join()
	t := time.NewTicker(c.cfg.Sweep)
	defer t.Stop()
	joinEvery := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-c.overKick:
			c.deliver()
		case <-c.kick:
			if c.cfg.OnMembers != nil {
				c.cfg.OnMembers()
			}
			c.sweep()
		case <-t.C:
			c.sweep()
			if joinEvery++; joinEvery*int(c.cfg.Sweep) >= int(reconnectEvery) {
				joinEvery = 0
				c.rejoin(time.Now())
			}
		}
	}
}

func (c *Cluster) join() {
	if len(c.cfg.Seeds) == 0 {
		return
	}
	if _, err := c.ml.Join(c.cfg.Seeds); err != nil {
		c.log.Debug("cluster join", "err", err)
	}
}

// SetTargets gives every target of the config (local or not), with the
// interval its observations are refreshed at.
func (c *Cluster) SetTargets(targets []healthcheck.Target) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.targets = make(map[healthcheck.Key]time.Duration, len(targets))
	for _, t := range targets {
		// Three missed probes and a second of gossip: absent.
		c.targets[t.Key] = 3*t.Config.Interval + time.Second
	}
	for k := range c.verdicts {
		if _, ok := c.targets[k]; !ok {
			delete(c.verdicts, k)
		}
	}
}

// Local reports whether this node probes k: it is one of k's probers, or
// there are too few live members for a quorum and every node probes all.
func (c *Cluster) Local(k healthcheck.Key) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.alone() || slices.Contains(c.probersOf(k, c.memberNames()), c.cfg.Name)
}

// Observe records this node's prober status of a target (after each
// probe) and gossips it.
func (c *Cluster) Observe(st healthcheck.Status) {
	if st.State == healthcheck.Unknown {
		return
	}
	c.mu.Lock()
	now := time.Now()
	c.lastSeq = max(c.lastSeq+1, uint64(now.UnixNano()))
	o := &observation{State: st.State, Since: st.Since, Seq: c.lastSeq, heard: now}
	prev := c.own()[st.Key]
	c.own()[st.Key] = o
	msg := encode(message{Obs: []wireObs{wire(c.cfg.Name, st.Key, o)}})
	c.queue.QueueBroadcast(&broadcast{key: obsKey(c.cfg.Name, st.Key), msg: msg})
	if prev != nil && prev.State == o.State {
		c.decide(st.Key, now)
		c.mu.Unlock()
		return
	}
	// A change: the others first, then this node's verdict, so that this
	// node does not switch before them.
	c.mu.Unlock()
	c.tell(msg)
	c.mu.Lock()
	c.decide(st.Key, time.Now())
	c.mu.Unlock()
}

// tell sends a changed observation to every other live member at once,
// besides the broadcast: gossip would take it on this node's next round
// (up to GossipInterval, 200 ms, later, and a hop more to the members that
// round missed), while this node's own verdict changed already, so for
// that long the fleet would answer differently. Changes are rare: one
// packet per member each. Not under mu: memberlist calls the events
// holding its own lock.
func (c *Cluster) tell(msg []byte) {
	if c.ml == nil || c.closed.Load() {
		return
	}
	for _, n := range c.ml.Members() {
		if n.Name != c.cfg.Name {
			if err := c.ml.SendBestEffort(n, msg); err != nil {
				c.log.Debug("cluster tell", "member", n.Name, "err", err)
			}
		}
	}
}

// obsKey is the broadcast key of node's observation of k: a newer one
// replaces it in the queue.
func obsKey(node string, k healthcheck.Key) string { return "o " + node + " " + k.String() }

func (c *Cluster) own() map[healthcheck.Key]*observation {
	m := c.obs[c.cfg.Name]
	if m == nil {
		m = map[healthcheck.Key]*observation{}
		c.obs[c.cfg.Name] = m
	}
	return m
}

// merge takes a message of other nodes: for each (node, target) the
// observation of the highest sequence wins, for each target the latest
// override, for each node its digest of the highest sequence.
func (c *Cluster) merge(in message) { c.mergeFrom(in, false) }

// mergeFrom is merge, and with relay it gossips on each observation that
// was news here. memberlist sends a broadcast only a few times
// (RetransmitMult × log10 of the members) to random members and a receiver
// does not pass it on by itself: without the relay, at 9 nodes a member
// missed a prober's unchanged observations for seconds, held them stale
// and decided on too few (TestFleetTable). Push/pull's merges are not
// relayed: the other end has them already, and a join would relay all.
func (c *Cluster) mergeFrom(in message, relay bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	c.mergeOverrides(in.Over)
	c.mergeDigests(in.Dig)
	for _, w := range in.Obs {
		k, o, ok := w.parse()
		if !ok || w.Node == c.cfg.Name {
			continue
		}
		m := c.obs[w.Node]
		if m == nil {
			m = map[healthcheck.Key]*observation{}
			c.obs[w.Node] = m
		}
		if cur := m[k]; cur != nil && cur.Seq >= o.Seq {
			continue
		}
		o.heard = now
		m[k] = o
		if relay {
			c.queue.QueueBroadcast(&broadcast{key: obsKey(w.Node, k), msg: encode(message{Obs: []wireObs{w}})})
		}
		c.heard.Add(1)
		c.merged[w.Node] = now
		c.decide(k, now)
	}
}

// sweep recomputes every verdict (observations go stale with time).
func (c *Cluster) sweep() {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	for k := range c.targets {
		c.decide(k, now)
	}
}

// decide recomputes k's verdict and reports a change. Callers hold mu.
func (c *Cluster) decide(k healthcheck.Key, now time.Time) {
	if _, ok := c.targets[k]; !ok {
		return
	}
	v := c.verdict(k, now, c.memberNames())
	if v == healthcheck.Unknown || v == c.verdicts[k] {
		return
	}
	c.verdicts[k] = v
	if c.cfg.OnVerdict != nil {
		c.cfg.OnVerdict(k, v)
	}
}

// verdict is the rule: up when at least quorum of k's probers' fresh
// observations say up, down when too many say down for that to happen.
// Without enough fresh observations to tell, the verdict holds, or is
// this node's own view when it has none yet. Callers hold mu.
func (c *Cluster) verdict(k healthcheck.Key, now time.Time, members []string) healthcheck.State {
	if c.alone() {
		if o := c.obs[c.cfg.Name][k]; o != nil {
			return o.State
		}
		return healthcheck.Unknown
	}
	probers := c.probersOf(k, members)
	q := c.cfg.Quorum(len(probers))
	ups, downs := 0, 0
	for _, p := range probers {
		if o := c.fresh(p, k, now); o != nil {
			switch o.State {
			case healthcheck.Up:
				ups++
			case healthcheck.Down:
				downs++
			}
		}
	}
	switch {
	case ups >= q:
		return healthcheck.Up
	case downs > len(probers)-q:
		return healthcheck.Down
	}
	if v, ok := c.verdicts[k]; ok {
		return v
	}
	if o := c.fresh(c.cfg.Name, k, now); o != nil {
		return o.State
	}
	return healthcheck.Unknown
}

// fresh is node's observation of k if it is within k's stale bound.
func (c *Cluster) fresh(node string, k healthcheck.Key, now time.Time) *observation {
	o := c.obs[node][k]
	if o == nil || now.Sub(o.heard) > c.targets[k] {
		return nil
	}
	return o
}

// alone reports whether there are fewer live members than the quorum of
// the configured probers needs: then every node probes every target and
// its own view decides. Callers hold mu.
func (c *Cluster) alone() bool {
	return len(c.members) < c.cfg.Quorum(c.cfg.Probers)
}

// memberNames is the live members, sorted. Callers hold mu.
func (c *Cluster) memberNames() []string {
	names := make([]string, 0, len(c.members))
	for n := range c.members {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// probersOf is k's probers among members: the min(Probers, len(members))
// highest by rendezvous hash of (member, check, address), so every node
// computes the same set and a member leaving moves only its own targets.
func (c *Cluster) probersOf(k healthcheck.Key, members []string) []string {
	return Probers(k, members, c.cfg.Probers)
}

// Probers is the rendezvous choice of n of members for k, highest weight
// first.
func Probers(k healthcheck.Key, members []string, n int) []string {
	type ranked struct {
		name string
		w    uint64
	}
	rs := make([]ranked, len(members))
	key := k.String()
	for i, m := range members {
		h := fnv.New64a()
		h.Write([]byte(m))
		h.Write([]byte{0})
		h.Write([]byte(key))
		rs[i] = ranked{m, mix(h.Sum64())}
	}
	slices.SortFunc(rs, func(a, b ranked) int {
		if a.w != b.w {
			if a.w > b.w {
				return -1
			}
			return 1
		}
		return compareStrings(a.name, b.name)
	})
	out := make([]string, 0, min(n, len(rs)))
	for _, r := range rs[:min(n, len(rs))] {
		out = append(out, r.name)
	}
	return out
}

// mix is splitmix64's finaliser: FNV's low bits alone spread poorly.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (c *Cluster) memberEvent(n *memberlist.Node, alive bool) {
	if c.closed.Load() {
		return
	}
	c.mu.Lock()
	if alive {
		c.members[n.Name] = n.Address()
		delete(c.gone, n.Name)
		c.warnDrift(n.Name)
	} else if n.Name != c.cfg.Name {
		delete(c.members, n.Name)
		delete(c.obs, n.Name) // its targets go to their next prober
		delete(c.merged, n.Name)
		delete(c.digests, n.Name)
		delete(c.warned, n.Name)
		// memberlist v0.7 leaves n.State unset here: the meta tells.
		state := "dead"
		if string(n.Meta) == leavingMeta {
			state = "left"
		}
		c.gone[n.Name] = goneNode{addr: n.Address(), state: state, at: time.Now()}
		for len(c.gone) > maxGone {
			oldest := ""
			for name, g := range c.gone {
				if oldest == "" || g.at.Before(c.gone[oldest].at) {
					oldest = name
				}
			}
			delete(c.gone, oldest)
		}
		c.log.Info("cluster member gone", "member", n.Name, "state", state)
	}
	c.nodes.Store(int32(len(c.members)))
	c.mu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// Status is what the status page shows of the fleet.
type Status struct {
	Node string `json:"node"`
	// Alone: too few live members for a quorum, so this node probes every
	// target and its own view decides.
	Alone   bool           `json:"alone"`
	Members []Member       `json:"members"`
	Targets []TargetStatus `json:"targets"`
	// Heard counts observations merged from other nodes.
	Heard uint64 `json:"observations_heard"`
	// Gone is the members that left or died (the latest 64).
	Gone []Member `json:"gone,omitempty"`
	// Overrides is the fleet's overrides, with who set them and when
	// (cleared ones too, State "").
	Overrides []Override `json:"overrides,omitempty"`
	// Drift says how live members' config or zone digests differ from
	// this node's, one line each.
	Drift []string `json:"drift,omitempty"`
	// Config and Zones are this node's digests.
	Config string `json:"config_digest,omitempty"`
	Zones  string `json:"zones_digest,omitempty"`
	// GossipSent and GossipReceived count gossip's bytes (packets and
	// streams, after encryption).
	GossipSent     uint64 `json:"gossip_bytes_sent"`
	GossipReceived uint64 `json:"gossip_bytes_received"`
}

// Member is one live member.
type Member struct {
	Name string `json:"name"`
	Addr string `json:"address"`
	// State is "alive" or "suspect" for a live member, "left" or "dead"
	// for a gone one.
	State string `json:"state"`
	// Config and Zones are its digests as last gossiped ("" not yet
	// heard); Since, for a gone member, when it went.
	Config string    `json:"config_digest,omitempty"`
	Zones  string    `json:"zones_digest,omitempty"`
	Since  time.Time `json:"since,omitzero"`
	// LastMerge is when an observation of it was last merged (zero: never,
	// or this node).
	LastMerge time.Time `json:"last_merge,omitzero"`
}

// TargetStatus is one target's probers, their views and the verdict.
type TargetStatus struct {
	Target  string `json:"target"`
	Local   bool   `json:"local"`
	Verdict string `json:"verdict"`
	Views   []View `json:"views"`
	// Disagree: its probers' fresh views are not all the same.
	Disagree bool `json:"disagree,omitempty"`
}

// View is one prober's observation of a target.
type View struct {
	Node  string        `json:"node"`
	State string        `json:"state"` // "absent" when none, "stale" when too old
	Age   time.Duration `json:"age"`
}

// Status returns the members, and each target's probers and views.
func (c *Cluster) Status() Status {
	states := map[string]string{}
	if c.ml != nil {
		// Before mu: memberlist calls the events holding its own lock.
		for _, n := range c.ml.Members() {
			if n.State == memberlist.StateSuspect {
				states[n.Name] = "suspect"
			}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	names := c.memberNames()
	st := Status{Node: c.cfg.Name, Alone: c.alone(), Heard: c.heard.Load(), Overrides: c.overrides(),
		GossipSent: c.bytesOut.Load(), GossipReceived: c.bytesIn.Load()}
	if d := c.digests[c.cfg.Name]; d != nil {
		st.Config, st.Zones = d.Config, d.All
	}
	for _, n := range names {
		m := Member{Name: n, Addr: c.members[n], LastMerge: c.merged[n], State: cmp.Or(states[n], "alive")}
		if d := c.digests[n]; d != nil {
			m.Config, m.Zones = d.Config, d.All
		}
		st.Members = append(st.Members, m)
		st.Drift = append(st.Drift, c.driftOf(n)...)
	}
	for _, n := range slices.Sorted(maps.Keys(c.gone)) {
		g := c.gone[n]
		st.Gone = append(st.Gone, Member{Name: n, Addr: g.addr, State: g.state, Since: g.at})
	}
	keys := make([]healthcheck.Key, 0, len(c.targets))
	for k := range c.targets {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b healthcheck.Key) int { return compareStrings(a.String(), b.String()) })
	for _, k := range keys {
		probers := c.probersOf(k, names)
		if st.Alone {
			probers = []string{c.cfg.Name}
		}
		ts := TargetStatus{Target: k.String(), Local: st.Alone || slices.Contains(probers, c.cfg.Name), Verdict: c.verdicts[k].String()}
		seen := healthcheck.Unknown
		for _, p := range probers {
			v := View{Node: p, State: "absent"}
			if o := c.obs[p][k]; o != nil {
				v.State, v.Age = o.State.String(), now.Sub(o.heard).Round(time.Millisecond)
				if c.fresh(p, k, now) == nil {
					v.State = "stale"
				} else if seen == healthcheck.Unknown {
					seen = o.State
				} else if o.State != seen {
					ts.Disagree = true
				}
			}
			ts.Views = append(ts.Views, v)
		}
		st.Targets = append(st.Targets, ts)
	}
	return st
}

// SetDrop makes gossip drop all traffic with the peers for which drop
// returns true (nil: none), in both directions as far as this node goes:
// tests cut nodes off with it, each node dropping the others' addresses.
func (c *Cluster) SetDrop(drop func(peer netip.Addr) bool) {
	if drop == nil {
		c.drop.Store(nil)
		return
	}
	c.drop.Store(&drop)
}

// Metrics is what the metrics read of the fleet at a scrape.
type Metrics struct {
	ByState map[string]int // live and gone members by state, this node included
	// SinceMerge is each live member's seconds since an observation of it
	// was last merged (members never merged from are left out).
	SinceMerge     map[string]float64
	Heard          uint64 // observations merged from other nodes
	GossipSent     uint64
	GossipReceived uint64
}

// Metrics returns the fleet's numbers for the metrics.
func (c *Cluster) Metrics() Metrics {
	st := c.Status()
	m := Metrics{ByState: map[string]int{"alive": 0, "suspect": 0, "left": 0, "dead": 0}, SinceMerge: map[string]float64{},
		Heard: st.Heard, GossipSent: st.GossipSent, GossipReceived: st.GossipReceived}
	now := time.Now()
	for _, mb := range st.Members {
		m.ByState[mb.State]++
		if !mb.LastMerge.IsZero() {
			m.SinceMerge[mb.Name] = now.Sub(mb.LastMerge).Seconds()
		}
	}
	for _, mb := range st.Gone {
		m.ByState[mb.State]++
	}
	return m
}
