package state

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-memdb"

	"github.com/dnslb/dnslb/dnslb/config"
	"github.com/dnslb/dnslb/dnslb/policy"
	"github.com/dnslb/dnslb/healthcheck"
	"github.com/dnslb/dnslb/zones"
)

// Store is the live state: the zones being served. go-memdb holds it, so a
// reader (the admin API, reload) sees one consistent version and replacing
// every zone is one transaction. After each write the store also publishes
// an immutable Snapshot through an atomic pointer: the query path reads
// that with one load and no locks.
type Store struct {
	db   *memdb.MemDB
	mu   sync.Mutex // serialises writers, so snapshots publish in commit order
	snap atomic.Pointer[Snapshot]
	// dirty says a health verdict was committed but not yet published.
	// Verdicts come in bursts (every target at startup, a whole site going
	// down) and a publish rebuilds every name's view, so RunPublisher
	// coalesces them instead of publishing once per verdict.
	dirty chan struct{}
	// What the next snapshot carries beside the tables: the serving
	// settings (Replace sets them with the zones) and the GeoIP data
	// (SetGeo). Guarded by mu.
	serving Serving
	geo     policy.Locator
	// rot holds the round-robin counters of each served zone's RRsets
	// (indexed by zones.RRset.Rot-1): serving state, kept beside the
	// immutable zone, and kept across reloads that keep the zone.
	rot map[*zones.Zone][]atomic.Uint32
	// published is signalled (without blocking) after every publish, for
	// the one reader that follows the names' health (Server.watchNames).
	published chan struct{}
	// loads are the published samples of the targets (load.go), and
	// loadDirty says one changed. Guarded by mu.
	loads     map[healthcheck.Key]sample
	rttKeys   map[healthcheck.Key]bool
	feeds     map[netip.Addr]Feed // pushed by POST /api/feed
	loadDirty chan struct{}
}

// Serving is the part of the config that answers are made with:
// everything a query reads beyond the zones, names and health.
type Serving struct {
	UDPSize int  // our EDNS buffer size (server.udp_size)
	Random  bool // server.rotate = "random"
	// NSID is the name server identifier (RFC 5001) in hex, as miekg/dns
	// holds it; "": none.
	NSID string
	// Identity and Version answer TXT queries in class CH (id.server and
	// hostname.bind, version.server and version.bind); "": refused.
	Identity, Version string
}

// healthDelay is how long a health verdict may wait to be published, so
// that a burst of verdicts costs one publish.
const healthDelay = 20 * time.Millisecond

// zoneRow is one row of the "zone" table.
type zoneRow struct {
	Origin string
	Zone   *zones.Zone
}

// nameRow is one row of the "name" table: a load-balanced owner name.
type nameRow struct {
	Owner string
	State *Name
}

// healthRow is one row of the "health" table: the prober's verdict on one
// (check, address) target.
type healthRow struct {
	ID    string // healthcheck.Key.String()
	Key   healthcheck.Key
	State healthcheck.State
}

// overrideRow is one row of the "override" table: an operator's word on an
// address or a name ("drain", "up" or "down"). Overrides are not part of
// the config, so reloads keep them.
type overrideRow struct {
	Target string // an address in netip form, or a lower-case FQDN
	State  string
}

func stringTable(name, field string) *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: name,
		Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: field}},
		},
	}
}

var schema = &memdb.DBSchema{
	Tables: map[string]*memdb.TableSchema{
		"zone":     stringTable("zone", "Origin"),
		"name":     stringTable("name", "Owner"),
		"health":   stringTable("health", "ID"),
		"override": stringTable("override", "Target"),
	},
}

// NewStore returns an empty store.
func NewStore() (*Store, error) {
	db, err := memdb.NewMemDB(schema)
	if err != nil {
		return nil, fmt.Errorf("store schema: %w", err)
	}
	s := &Store{db: db, dirty: make(chan struct{}, 1), published: make(chan struct{}, 1), loadDirty: make(chan struct{}, 1)}
	s.serving = Serving{UDPSize: config.DefaultUDPSize}
	s.snap.Store(&Snapshot{Serving: s.serving})
	return s, nil
}

// Snapshot returns the current state for one query. It never blocks.
func (s *Store) Snapshot() *Snapshot { return s.snap.Load() }

// Replace makes zs the complete set of served zones and names the
// complete set of load-balanced names, in one transaction, and sv the
// serving settings: the snapshot it publishes has them all.
func (s *Store) Replace(zs []*zones.Zone, names map[string]*Name, sv Serving) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	txn := s.db.Txn(true)
	defer txn.Abort()
	for _, table := range []string{"zone", "name"} {
		if _, err := txn.DeleteAll(table, "id"); err != nil {
			return fmt.Errorf("store: %w", err)
		}
	}
	for _, z := range zs {
		if err := txn.Insert("zone", &zoneRow{Origin: z.Origin, Zone: z}); err != nil {
			return fmt.Errorf("store: %w", err)
		}
	}
	for owner, ns := range names {
		if err := txn.Insert("name", &nameRow{Owner: owner, State: ns}); err != nil {
			return fmt.Errorf("store: %w", err)
		}
	}
	txn.Commit()
	rot := make(map[*zones.Zone][]atomic.Uint32, len(zs))
	for _, z := range zs {
		if c, ok := s.rot[z]; ok {
			rot[z] = c
		} else {
			rot[z] = make([]atomic.Uint32, z.Rotations())
		}
	}
	s.serving, s.rot = sv, rot
	s.setRTTKeys(names)
	s.publish()
	return nil
}

// SetServing publishes a snapshot with new serving settings, the zones
// and names unchanged.
func (s *Store) SetServing(sv Serving) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.serving = sv
	s.publish()
}

// SetGeo makes loc the GeoIP data of the snapshots from now on, and
// publishes one.
func (s *Store) SetGeo(loc policy.Locator) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.geo = loc
	s.publish()
}

// SetHealth records the prober's verdict on a target. Queries see it once
// RunPublisher publishes it (within healthDelay), or at the next Publish.
func (s *Store) SetHealth(k healthcheck.Key, st healthcheck.State) {
	s.mu.Lock()
	txn := s.db.Txn(true)
	if err := txn.Insert("health", &healthRow{ID: k.String(), Key: k, State: st}); err != nil {
		txn.Abort()
		s.mu.Unlock()
		return
	}
	txn.Commit()
	s.mu.Unlock()
	select {
	case s.dirty <- struct{}{}:
	default: // a publish is already due
	}
}

// Publish makes every committed change visible to queries now.
func (s *Store) Publish() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.publish()
}

// RunPublisher publishes health verdicts, at most one publish per
// healthDelay, and load changes, at most one per loadDelay, until ctx is
// done.
func (s *Store) RunPublisher(ctx context.Context) error {
	t := time.NewTimer(healthDelay)
	t.Stop()
	tl := time.NewTimer(loadDelay)
	tl.Stop()
	loadDue := false
	expiry := time.NewTicker(time.Second) // pushed values expire
	defer expiry.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-expiry.C:
			s.mu.Lock()
			if s.expireFeeds(now) {
				s.publish()
			}
			s.mu.Unlock()
		case <-s.dirty:
			t.Reset(healthDelay)
		case <-s.loadDirty:
			if !loadDue {
				loadDue = true
				tl.Reset(loadDelay)
			}
		case <-t.C:
			s.Publish()
		case <-tl.C:
			loadDue = false
			s.Publish()
		}
	}
}

// ForgetHealth drops the verdicts on targets no longer probed.
func (s *Store) ForgetHealth(keep map[healthcheck.Key]bool) {
	s.write(func(txn *memdb.Txn) error {
		s.forgetLoads(keep)
		for _, r := range s.rows(txn, "health") {
			if h := r.(*healthRow); !keep[h.Key] {
				if err := txn.Delete("health", h); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// SetOverride sets (state "drain", "up", "down") or clears (state "") an
// operator override on an address or a name.
func (s *Store) SetOverride(target, state string) {
	s.write(func(txn *memdb.Txn) error {
		if state == "" {
			_, err := txn.DeleteAll("override", "id", target)
			return err
		}
		return txn.Insert("override", &overrideRow{Target: target, State: state})
	})
}

// Overrides returns every override, target to state.
func (s *Store) Overrides() map[string]string {
	out := make(map[string]string)
	for _, r := range s.rows(s.db.Txn(false), "override") {
		o := r.(*overrideRow)
		out[o.Target] = o.State
	}
	return out
}

// write runs f in a write transaction and publishes the result.
func (s *Store) write(f func(*memdb.Txn) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	txn := s.db.Txn(true)
	if err := f(txn); err != nil {
		txn.Abort()
		return
	}
	txn.Commit()
	s.publish()
}

func (s *Store) rows(txn *memdb.Txn, table string) []any {
	it, err := txn.Get(table, "id")
	if err != nil {
		return nil
	}
	var out []any
	for obj := it.Next(); obj != nil; obj = it.Next() {
		out = append(out, obj)
	}
	return out
}

// Zones returns the served zones, sorted by name, from one read transaction.
func (s *Store) Zones() []*zones.Zone {
	var out []*zones.Zone
	for _, r := range s.rows(s.db.Txn(false), "zone") {
		out = append(out, r.(*zoneRow).Zone)
	}
	return out
}

// Names returns the load-balanced names, sorted.
func (s *Store) Names() []*Name {
	var out []*Name
	for _, r := range s.rows(s.db.Txn(false), "name") {
		out = append(out, r.(*nameRow).State)
	}
	return out
}

// publish builds the query-path snapshot from the committed state, all
// read in one transaction. Callers hold s.mu.
func (s *Store) publish() {
	txn := s.db.Txn(false)
	sn := &Snapshot{zones: make(map[string]*zones.Zone), names: make(map[string]*NameView),
		Serving: s.serving, geo: s.geo, rot: s.rot}
	for _, r := range s.rows(txn, "zone") {
		z := r.(*zoneRow).Zone
		sn.zones[z.Origin] = z
	}
	health := make(map[healthcheck.Key]healthcheck.State)
	for _, r := range s.rows(txn, "health") {
		h := r.(*healthRow)
		health[h.Key] = h.State
	}
	over := make(map[string]string)
	for _, r := range s.rows(txn, "override") {
		o := r.(*overrideRow)
		over[o.Target] = o.State
	}
	old := s.snap.Load()
	feeds := s.liveFeeds(time.Now())
	for _, r := range s.rows(txn, "name") {
		ns := r.(*nameRow).State
		var prev *NameView
		if old != nil {
			prev = old.names[ns.Owner]
		}
		sn.names[ns.Owner] = newNameView(ns, health, over, s.loads, feeds, prev)
	}
	s.snap.Store(sn)
	select {
	case s.published <- struct{}{}:
	default: // the reader has not caught up yet: it reads the newest snapshot
	}
}

// Published fires after a new snapshot is published (coalesced: one
// signal may stand for several). It has one reader, outside the query path.
func (s *Store) Published() <-chan struct{} { return s.published }

// Snapshot is one immutable version of everything a query reads: the
// zones, each load-balanced name with its health, the serving settings
// and the GeoIP data. Anything that changes an answer publishes a new
// one, so a cache of answers is stale exactly when the snapshot it was
// made from is not the current one: one pointer comparison.
type Snapshot struct {
	Serving
	zones map[string]*zones.Zone
	names map[string]*NameView
	geo   policy.Locator // nil without GeoIP data
	rot   map[*zones.Zone][]atomic.Uint32
}

// Counters returns the round-robin counters of zone z's RRsets, indexed
// by zones.RRset.Rot-1 (nil for a zone not served).
func (sn *Snapshot) Counters(z *zones.Zone) []atomic.Uint32 { return sn.rot[z] }

// Geo returns the GeoIP data, or nil (not a typed nil) when there is none.
func (sn *Snapshot) Geo() policy.Locator { return sn.geo }

// Owners lists the load-balanced names of the snapshot, sorted.
func (sn *Snapshot) Owners() []string { return slices.Sorted(maps.Keys(sn.names)) }

// Name returns the load-balancing view of an owner name, or nil.
func (sn *Snapshot) Name(owner string) *NameView { return sn.names[owner] }

// Zone returns the deepest served zone that contains name (lower case,
// fully qualified), or nil.
func (sn *Snapshot) Zone(name string) *zones.Zone {
	for i := 0; ; {
		if z := sn.zones[name[i:]]; z != nil {
			return z
		}
		if i >= len(name)-1 {
			return sn.zones["."]
		}
		i = zones.NextLabel(name, i)
		if i >= len(name) {
			return sn.zones["."]
		}
	}
}

// Parent returns the served zone that contains the zone z's delegation
// point (for DS at a zone apex, RFC 4035 section 3.1.4.1), or nil.
func (sn *Snapshot) Parent(z *zones.Zone) *zones.Zone {
	if z.Origin == "." {
		return nil
	}
	i := zones.NextLabel(z.Origin, 0)
	if i >= len(z.Origin) {
		return sn.zones["."]
	}
	return sn.Zone(z.Origin[i:])
}
