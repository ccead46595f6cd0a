package dnslb

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-memdb"

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
}

// zoneRow is one row of the "zone" table.
type zoneRow struct {
	Origin string
	Zone   *zones.Zone
}

var schema = &memdb.DBSchema{
	Tables: map[string]*memdb.TableSchema{
		"zone": {
			Name: "zone",
			Indexes: map[string]*memdb.IndexSchema{
				"id": {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Origin"}},
			},
		},
	},
}

// NewStore returns an empty store.
func NewStore() (*Store, error) {
	db, err := memdb.NewMemDB(schema)
	if err != nil {
		return nil, fmt.Errorf("store schema: %w", err)
	}
	s := &Store{db: db}
	s.snap.Store(newSnapshot(nil))
	return s, nil
}

// Snapshot returns the current state for one query. It never blocks.
func (s *Store) Snapshot() *Snapshot { return s.snap.Load() }

// ReplaceZones makes zs the complete set of served zones in one
// transaction: zones not in zs stop being served.
func (s *Store) ReplaceZones(zs []*zones.Zone) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	txn := s.db.Txn(true)
	defer txn.Abort()
	if _, err := txn.DeleteAll("zone", "id"); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	for _, z := range zs {
		if err := txn.Insert("zone", &zoneRow{Origin: z.Origin, Zone: z}); err != nil {
			return fmt.Errorf("store: %w", err)
		}
	}
	txn.Commit()
	s.publish()
	return nil
}

// Zones returns the served zones, sorted by name, from one read transaction.
func (s *Store) Zones() []*zones.Zone {
	txn := s.db.Txn(false)
	it, err := txn.Get("zone", "id")
	if err != nil {
		return nil
	}
	var out []*zones.Zone
	for obj := it.Next(); obj != nil; obj = it.Next() {
		out = append(out, obj.(*zoneRow).Zone)
	}
	return out
}

// publish builds the query-path snapshot from the committed state.
// Callers hold s.mu.
func (s *Store) publish() {
	s.snap.Store(newSnapshot(s.Zones()))
}

// Snapshot is one immutable version of everything a query reads.
type Snapshot struct {
	zones map[string]*zones.Zone
}

func newSnapshot(zs []*zones.Zone) *Snapshot {
	m := make(map[string]*zones.Zone, len(zs))
	for _, z := range zs {
		m[z.Origin] = z
	}
	return &Snapshot{zones: m}
}

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
		i = nextLabel(name, i)
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
	i := nextLabel(z.Origin, 0)
	if i >= len(z.Origin) {
		return sn.zones["."]
	}
	return sn.Zone(z.Origin[i:])
}

// nextLabel returns the index after the label that starts at i.
func nextLabel(name string, i int) int {
	for ; i < len(name); i++ {
		switch name[i] {
		case '\\':
			i++
		case '.':
			return i + 1
		}
	}
	return len(name)
}
