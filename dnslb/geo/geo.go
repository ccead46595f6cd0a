package geo

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"

	"github.com/dnslb/dnslb/dnslb/policy"
	"github.com/dnslb/dnslb/geodata"
)

var _ policy.Locator = (*DB)(nil)

// DB is a Locator reading MaxMind-format databases: GeoIP2/GeoLite2 and
// DB-IP Lite Country, City and ASN databases, and the flat
// country_code/latitude/longitude/autonomous_system_number databases of the
// ip-location-db project. Several files are merged field by field, the first
// file that has a value for a field winning (so list a City database before a
// country-only one). Files for only one IP version are skipped for the other.
//
// Records are decoded with maxminddb directly into a small struct that
// covers the field paths of all these formats, rather than through
// geoip2-golang's City/Country/ASN types: those decode every localized name
// and allocate per lookup, and the flat format isn't a GeoIP2 type at all.
// Decoded records are cached per data offset, so repeat lookups don't allocate.
//
// A nil *DB is valid and knows nothing. The zero value is not usable; use
// Open.
type DB struct {
	files []string
	log   *slog.Logger
	cur   atomic.Pointer[Set]

	reloadMu sync.Mutex
	failed   map[string][2]int64 // path -> mtime, size of a version that failed to load
	// Poll is how often Run checks the files for changes (default 5s).
	Poll time.Duration
	// OnChange, if set, is called with each new set of files Reload
	// swaps in (under reloadMu).
	OnChange func(*Set)
	// tree: files are looked up in their search trees, not compiled
	// (OpenTree).
	tree bool
}

type Set struct {
	dbs   []*geoFile
	count func(found bool) // Counted's
}

// Counted returns the set with count called after each Lookup with what
// it found (for dnslb_geoip_lookups_total): in the lookup, not in a
// Locator wrapped around it, which cost a query another copy of the
// Location through another interface call.
func (set *Set) Counted(count func(found bool)) *Set {
	if set == nil {
		return &Set{count: count}
	}
	return &Set{dbs: set.dbs, count: count}
}

type geoFile struct {
	path  string
	mtime time.Time
	size  int64
	r     *maxminddb.Reader
	ipv6  bool // ip_version 6: holds IPv4 too (under ::/96)
	// fields is what the file can tell (by its database type): a lookup
	// that asks for none of them skips it.
	fields policy.Fields
	// records is the decode cache, data offset to *recData. A sync.Map:
	// lookups from every serving core only read it, and its reads take
	// no lock (an RWMutex's read lock writes a shared counter, which the
	// cores then pass between them).
	records sync.Map
	nrec    atomic.Int32
	// t4 and t6 are the compiled tables (compiled.go) and recs the
	// records their ranges point to, decoded at load; nil when compiling
	// failed, and t6 for a file without IPv6.
	t4   *table[uint32]
	t6   *table[uint64]
	recs []recData
}

// maxCachedRecords bounds the decode cache of one file. Country databases
// have a few hundred distinct records, City databases up to some hundred
// thousand; past the bound lookups decode every time (and allocate).
const maxCachedRecords = 1 << 17

// geoRecord is the union of the fields dnslb uses from every supported format.
type geoRecord struct {
	CountryCode string  `maxminddb:"country_code"` // ip-location-db flat
	Latitude    float64 `maxminddb:"latitude"`     // ip-location-db city
	Longitude   float64 `maxminddb:"longitude"`
	ASN         uint32  `maxminddb:"autonomous_system_number"` // GeoLite2-ASN, ip-location-db asn
	Country     struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	Continent struct {
		Code string `maxminddb:"code"`
	} `maxminddb:"continent"`
	Subdivisions []struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"subdivisions"`
	Location struct {
		Latitude  float64 `maxminddb:"latitude"`
		Longitude float64 `maxminddb:"longitude"`
	} `maxminddb:"location"`
}

// Open opens the database files, in priority order; with no files it
// uses the built-in country database, which never changes. It returns a usable
// *DB even when some or all files fail to open, together with an error
// naming each failure, so that `dnslb check` can report the error while serve
// can log it and carry on without GeoIP data (every client then gets the
// default group). log may be nil.
//
// Each file is compiled for lookup as it loads (compiled.go): a walk of its
// networks that takes about 25 ms for 200,000 networks and 0.26 s for the
// shipped country database (1.2 million IPv4 and IPv6 networks), and keeps
// 12 bytes per network beside the file.
func Open(files []string, log *slog.Logger) (*DB, error) {
	return open(files, log, false)
}

// OpenTree is Open without compiling: lookups walk each file's search
// tree. It is for one-shot uses, such as dnslb check and the offline
// explain, where compiling would cost more than it saves.
func OpenTree(files []string, log *slog.Logger) (*DB, error) {
	return open(files, log, true)
}

func open(files []string, log *slog.Logger, tree bool) (*DB, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	g := &DB{files: files, log: log, tree: tree}
	set := &Set{}
	var errs []error
	if len(files) == 0 {
		gf, err := newGeoFile("built-in "+geodata.CountryName, geodata.Country, !tree)
		if err != nil {
			errs = append(errs, err)
		} else {
			set.dbs = append(set.dbs, gf)
			log.Info("using the built-in geoip country database", "file", geodata.CountryName)
		}
	}
	for _, f := range files {
		gf, err := openGeoFile(f, !tree)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		set.dbs = append(set.dbs, gf)
	}
	g.cur.Store(set)
	if len(set.dbs) == 0 {
		log.Warn("no geoip database loaded, every client gets the default group", "file", files)
	}
	return g, errors.Join(errs...)
}

func openGeoFile(path string, compile bool) (*geoFile, error) {
	// Read into memory rather than mmap: an old reader may still be in use
	// by queries after a reload swapped it out, and unmapping it under them
	// would crash. The garbage collector frees it when they are done.
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("geoip database: %w", err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("geoip database: %w", err)
	}
	gf, err := newGeoFile(path, b, compile)
	if err != nil {
		return nil, err
	}
	gf.mtime, gf.size = fi.ModTime(), fi.Size()
	return gf, nil
}

func newGeoFile(path string, b []byte, compile bool) (*geoFile, error) {
	r, err := maxminddb.OpenBytes(b)
	if err != nil {
		return nil, fmt.Errorf("geoip database %s: %w", path, err)
	}
	gf := &geoFile{
		path:   path,
		r:      r,
		ipv6:   r.Metadata.IPVersion == 6,
		fields: fieldsOf(r.Metadata.DatabaseType),
	}
	// A file whose tree cannot be walked is still served, from the tree:
	// a lookup there reports the same trouble the walk met, as no data.
	if compile {
		_ = gf.compile()
	}
	return gf, nil
}

// Lookup implements Locator. It is safe for concurrent use.
func (g *DB) Lookup(addr netip.Addr, need policy.Fields) (policy.Location, bool) {
	var loc policy.Location
	if g == nil {
		return loc, false
	}
	return g.cur.Load().Lookup(addr, need)
}

// Lookup implements Locator over one version of the files. A nil set
// knows nothing.
func (set *Set) Lookup(addr netip.Addr, need policy.Fields) (policy.Location, bool) {
	var loc policy.Location
	if set == nil {
		return loc, false
	}
	addr = addr.Unmap()
	found := false
	for _, f := range set.dbs {
		if addr.Is6() && !f.ipv6 || f.fields&need == 0 {
			continue // no field asked for: its network does not matter
		}
		bits, rec := f.lookup(addr)
		if bits > loc.Prefix {
			loc.Prefix = bits
		}
		if rec == nil {
			continue
		}
		found = rec.mergeInto(&loc) || found
		if has(&loc)&need == need {
			break // the files after this one cannot change what was asked
		}
	}
	if set.count != nil {
		set.count(found)
	}
	return loc, found
}

// Warm starts reading the compiled tables where Lookups of addrs (IPv4
// addresses; at most maxWarm are looked at) will read them, and returns a
// value made of what it read (for the caller to keep, so that the reads
// happen). The serving loop warms the clients of a whole batch of queries
// before answering any: the tables are megabytes, clients' addresses are
// spread over all of them, and the kernel's work between two batches
// evicts them from the processor's caches, so each lookup's reads would
// miss, one query after another; warmed together, the misses of a batch
// are waited for at once.
func (set *Set) Warm(addrs []netip.Addr) uint32 {
	if set == nil {
		return 0
	}
	var keys [maxWarm]uint32
	n := 0
	for _, a := range addrs[:min(len(addrs), maxWarm)] {
		if a.Is4() {
			b := a.As4()
			keys[n] = binary.BigEndian.Uint32(b[:])
			n++
		}
	}
	var sum uint32
	for _, f := range set.dbs {
		if f.t4 != nil && n > 0 {
			sum += f.t4.warm(keys[:n])
		}
	}
	return sum
}

// lookup is what f says of addr: the length of its network, counted in
// addr's family (-1 when the lookup failed, and rec is nil), and its record (nil: none).
// It reads the compiled tables, and the tree where they have no answer.
func (f *geoFile) lookup(addr netip.Addr) (int, *recData) {
	if v := f.find(addr); v != direct {
		if i := v >> 8; i != 0 {
			return int(v & 0xff), &f.recs[i]
		}
		return int(v & 0xff), nil
	}
	return f.lookupTree(addr)
}

// find is the value of addr's range in the compiled tables: its record
// index<<8 | its network's length, or direct (no table, or the tree has
// the answer).
func (f *geoFile) find(addr netip.Addr) uint32 {
	if addr.Is4() {
		if f.t4 != nil {
			a := addr.As4()
			return f.t4.find(binary.BigEndian.Uint32(a[:]))
		}
	} else if f.t6 != nil {
		a := addr.As16()
		return f.t6.find(binary.BigEndian.Uint64(a[:8]))
	}
	return direct
}

// Record implements policy.Records for a set of one file, in its compiled
// tables: the identity is the record's index there. A set of several
// files (whose records merge) and the tree's ranges have none.
func (set *Set) Record(addr netip.Addr, need policy.Fields) (uint64, int, bool) {
	if set == nil || len(set.dbs) != 1 {
		return 0, 0, false
	}
	f := set.dbs[0]
	addr = addr.Unmap()
	if addr.Is6() && !f.ipv6 || f.fields&need == 0 {
		return 0, 0, false
	}
	v := f.find(addr)
	if v == direct {
		return 0, 0, false
	}
	i := v >> 8
	if set.count != nil {
		set.count(i != 0 && f.recs[i].known())
	}
	return uint64(i), int(v & 0xff), true
}

// RecordLocation implements policy.Records.
func (set *Set) RecordLocation(id uint64) (policy.Location, bool) {
	var loc policy.Location
	if id == 0 || set == nil || len(set.dbs) != 1 || id >= uint64(len(set.dbs[0].recs)) {
		return loc, false
	}
	return loc, set.dbs[0].recs[id].mergeInto(&loc)
}

// lookupTree is lookup in the file's search tree.
func (f *geoFile) lookupTree(addr netip.Addr) (int, *recData) {
	res := f.r.Lookup(addr)
	if res.Err() != nil {
		return -1, nil
	}
	bits := min(res.Prefix().Bits(), addr.BitLen())
	if !res.Found() {
		return bits, nil
	}
	rec, ok := f.record(res)
	if !ok {
		return bits, nil
	}
	return bits, rec
}

// has is the set of fields loc holds.
func has(loc *policy.Location) policy.Fields {
	var f policy.Fields
	if loc.Country != "" {
		f |= policy.FieldCountry
	}
	if loc.Continent != "" {
		f |= policy.FieldContinent
	}
	if loc.Subdivisions[0] != "" {
		f |= policy.FieldSubdivision
	}
	if loc.ASN != 0 {
		f |= policy.FieldASN
	}
	if loc.HasCoords {
		f |= policy.FieldCoords
	}
	return f
}

// fieldsOf is what a database of this type can tell: an ASN database
// only the ASN; any other kind possibly everything (a City database can
// hold an ASN too, and the ip-location-db files are named by their
// content, which we do not trust to be the whole story).
func fieldsOf(dbType string) policy.Fields {
	t := strings.ToLower(dbType)
	if strings.Contains(t, "asn") && !strings.Contains(t, "city") && !strings.Contains(t, "country") {
		return policy.FieldASN
	}
	return policy.AllFields
}

func (f *geoFile) record(res maxminddb.Result) (*recData, bool) {
	off := res.Offset()
	if r, ok := f.records.Load(off); ok {
		return r.(*recData), true
	}
	rec, ok := decodeRecord(res)
	if !ok {
		return nil, false
	}
	p := &rec
	if f.nrec.Load() < maxCachedRecords {
		if _, loaded := f.records.LoadOrStore(off, p); !loaded {
			f.nrec.Add(1)
		}
	}
	return p, true
}

// recData is a decoded record, normalized: what Lookup merges.
type recData struct {
	country, continent string
	subdivs            [2]string // full ISO 3166-2 codes
	asn                uint32
	lat, lon           float64
	hasCoords          bool
}

// decodeRecord is the cache-miss path; it is kept out of record so that the
// decode target's escape to the heap doesn't cost the cache hits.
//
//go:noinline
func decodeRecord(res maxminddb.Result) (recData, bool) {
	var r geoRecord
	if err := res.Decode(&r); err != nil {
		return recData{}, false
	}
	var d recData
	d.country = r.Country.ISOCode
	if d.country == "" {
		d.country = r.CountryCode
	}
	d.continent = r.Continent.Code
	if d.continent == "" {
		d.continent, _ = policy.ContinentOf(d.country)
	}
	for i, s := range r.Subdivisions {
		if i == len(d.subdivs) || d.country == "" {
			break
		}
		d.subdivs[i] = subdivisionCode(d.country, s.ISOCode)
	}
	d.asn = r.ASN
	d.lat, d.lon = r.Location.Latitude, r.Location.Longitude
	if d.lat == 0 && d.lon == 0 {
		d.lat, d.lon = r.Latitude, r.Longitude
	}
	d.hasCoords = d.lat != 0 || d.lon != 0
	return d, true
}

// mergeInto fills the fields of loc that are still empty and reports whether
// the record had any data.
func (d *recData) mergeInto(loc *policy.Location) bool {
	if loc.Country == "" {
		loc.Country = d.country
	}
	if loc.Continent == "" {
		loc.Continent = d.continent
	}
	if loc.Subdivisions[0] == "" {
		loc.Subdivisions = d.subdivs
	}
	if loc.ASN == 0 {
		loc.ASN = d.asn
	}
	if !loc.HasCoords && d.hasCoords {
		loc.Lat, loc.Lon, loc.HasCoords = d.lat, d.lon, true
	}
	return d.known()
}

// known tells whether the record holds anything (mergeInto's result).
func (d *recData) known() bool {
	return d.country != "" || d.continent != "" || d.subdivs[0] != "" || d.asn != 0 || d.hasCoords
}

// subdivisionCode turns GeoIP2's subdivision iso_code ("CA", without the
// country) into the full ISO 3166-2 code "US-CA".
func subdivisionCode(country, code string) string {
	if code == "" || (len(code) > 3 && code[2] == '-') {
		return code
	}
	return country + "-" + code
}

// Current is the set of files lookups use now.
func (g *DB) Current() *Set { return g.cur.Load() }

// Run re-reads database files that changed on disk (compared by mtime and
// size every g.Poll) until ctx is done. Replace files by rename. A file that
// fails to load keeps its previous version and is logged once per change.
func (g *DB) Run(ctx context.Context) error {
	if g == nil || len(g.files) == 0 {
		<-ctx.Done() // the built-in database never changes
		return nil
	}
	d := g.Poll
	if d <= 0 {
		d = 5 * time.Second
	}
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			g.Reload()
		}
	}
}

// Reload re-reads the files that changed since they were loaded and swaps in
// the new set in one step. It reports whether anything changed.
func (g *DB) Reload() bool {
	if g == nil {
		return false
	}
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	if g.failed == nil {
		g.failed = make(map[string][2]int64)
	}
	old := g.cur.Load()
	byPath := make(map[string]*geoFile, len(old.dbs))
	for _, f := range old.dbs {
		byPath[f.path] = f
	}
	next := &Set{}
	changed := false
	for _, path := range g.files {
		prev := byPath[path]
		fi, err := os.Stat(path)
		if err != nil {
			if prev != nil {
				next.dbs = append(next.dbs, prev)
			}
			continue
		}
		if prev != nil && fi.ModTime().Equal(prev.mtime) && fi.Size() == prev.size {
			next.dbs = append(next.dbs, prev)
			continue
		}
		stamp := [2]int64{fi.ModTime().UnixNano(), fi.Size()}
		// A broken file is logged once per version, not every poll.
		if g.failed[path] == stamp {
			if prev != nil {
				next.dbs = append(next.dbs, prev)
			}
			continue
		}
		nf, err := openGeoFile(path, !g.tree)
		if err != nil {
			g.failed[path] = stamp
			g.log.Error("geoip database reload failed, keeping the old one", "file", path, "err", err)
			if prev != nil {
				next.dbs = append(next.dbs, prev)
			}
			continue
		}
		delete(g.failed, path)
		g.log.Info("geoip database loaded", "file", path)
		next.dbs = append(next.dbs, nf)
		changed = true
	}
	if changed {
		g.cur.Store(next)
		if g.OnChange != nil {
			g.OnChange(next)
		}
	}
	return changed
}
