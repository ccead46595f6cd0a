package rrl

import (
	"hash/maphash"
	"net/netip"
	"sync"
	"time"
)

// Class is the kind of response an account counts.
type Class uint8

// The response classes.
const (
	Positive Class = iota // an answer with data
	NoData                // the name exists, the type does not
	NXDomain              // the name does not exist (counted per zone)
	Referral              // a delegation (counted per delegation point)
	Error                 // REFUSED, FORMERR, SERVFAIL, NOTIMP and the rest
	NumClasses
)

var classNames = [NumClasses]string{"positive", "nodata", "nxdomain", "referral", "error"}

// String is the class's name as metrics label it.
func (c Class) String() string {
	if c < NumClasses {
		return classNames[c]
	}
	return "error"
}

// Result is what the table says of one response.
type Result uint8

// The results. WouldDrop and WouldSlip are Drop and Slip under LogOnly:
// the response is sent.
const (
	Send Result = iota
	Drop
	Slip
	WouldDrop
	WouldSlip
	NumResults
)

var resultNames = [NumResults]string{"sent", "dropped", "slipped", "would_drop", "would_slip"}

func (r Result) String() string {
	if r < NumResults {
		return resultNames[r]
	}
	return "sent"
}

// Config is the table's settings; New fills in the defaults of the zero
// fields that have one.
type Config struct {
	// Rates are the credits per second of each class's accounts; 0 (or
	// less): that class is not limited.
	Rates [NumClasses]int
	// Window is how far below zero an account can go, in seconds of its
	// rate (default 15, BIND's).
	Window int
	// Slip: of the dropped responses, the first and every Slip-th after
	// it are slipped; 0 drops all, 1 slips all (BIND's slip; the config
	// file's default is 2).
	Slip int
	// IPv4Prefix and IPv6Prefix are the prefix lengths clients are
	// counted by (default 24 and 56).
	IPv4Prefix, IPv6Prefix int
	// MaxAccounts bounds the table (default 100,000); the least recently
	// used account goes first.
	MaxAccounts int
	// LogOnly counts what would be dropped or slipped and drops nothing.
	LogOnly bool
}

// Defaults of Config.
const (
	DefaultWindow      = 15
	DefaultIPv4Prefix  = 24
	DefaultIPv6Prefix  = 56
	DefaultMaxAccounts = 100_000
)

// never is entry.last of an account that has had no response yet.
const never = -1 << 62

// shards is the number of independently locked parts of the table: many
// serving goroutines share it.
const shards = 64

// Table is the accounts, safe for concurrent use.
type Table struct {
	cfg    Config
	seed   maphash.Seed
	shards [shards]shard
}

// shard is one part of the table: a map from account key to its entry in
// ents, and a least-recently-used list through ents.
type shard struct {
	mu   sync.Mutex
	idx  map[uint64]int32
	ents []entry
	head int32 // most recently used; -1: empty
	tail int32 // least recently used
	max  int
	_    [40]byte // keep shards' locks on their own cache lines
}

// entry is one account.
type entry struct {
	key        uint64
	balance    int32 // credits; negative: drop
	slips      int32 // dropped responses since the last slip
	last       int64 // Unix second of the last response
	prev, next int32
}

// New returns an empty table with cfg, its zero fields at their defaults.
func New(cfg Config) *Table {
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	cfg.Slip = max(cfg.Slip, 0)
	if cfg.IPv4Prefix <= 0 || cfg.IPv4Prefix > 32 {
		cfg.IPv4Prefix = DefaultIPv4Prefix
	}
	if cfg.IPv6Prefix <= 0 || cfg.IPv6Prefix > 128 {
		cfg.IPv6Prefix = DefaultIPv6Prefix
	}
	if cfg.MaxAccounts <= 0 {
		cfg.MaxAccounts = DefaultMaxAccounts
	}
	t := &Table{cfg: cfg, seed: maphash.MakeSeed()}
	per := max(1, (cfg.MaxAccounts+shards-1)/shards)
	for i := range t.shards {
		t.shards[i] = shard{head: -1, tail: -1, max: per}
	}
	return t
}

// Config returns the table's settings, with the defaults filled in.
func (t *Table) Config() Config { return t.cfg }

// Limited reports whether responses of class c are limited at all.
func (t *Table) Limited(c Class) bool { return c < NumClasses && t.cfg.Rates[c] > 0 }

// Response accounts one response of class c about name (see the package
// comment for which name) to client at time now, and says whether to
// send, drop or slip it.
func (t *Table) Response(now time.Time, client netip.Addr, c Class, name string) Result {
	if c >= NumClasses {
		c = Error
	}
	rate := t.cfg.Rates[c]
	if rate <= 0 {
		return Send
	}
	if c == Error {
		name = ""
	}
	k := t.key(client, c, name)
	sec := now.Unix()
	s := &t.shards[k>>(64-6)]
	s.mu.Lock()
	r := t.debit(s.get(k), sec, int32(rate))
	s.mu.Unlock()
	if t.cfg.LogOnly {
		switch r {
		case Drop:
			r = WouldDrop
		case Slip:
			r = WouldSlip
		}
	}
	return r
}

// debit is BIND's rule (lib/dns/rrl.c): credit the seconds since the last
// response, at rate a second, capped at rate (an account older than the
// window starts afresh); debit this response; below zero, drop or slip,
// the balance floored at -window*rate.
func (t *Table) debit(e *entry, now int64, rate int32) Result {
	if age := now - e.last; age > 0 { // a new account's age is about 2^62
		if age > int64(t.cfg.Window) {
			e.balance, e.slips = rate, 0
		} else if e.balance += rate * int32(age); e.balance > rate {
			e.balance, e.slips = rate, 0
		}
	}
	e.last = now
	e.balance--
	if e.balance >= 0 {
		return Send
	}
	if floor := -int32(t.cfg.Window) * rate; e.balance < floor {
		e.balance = floor
	}
	slip := int32(t.cfg.Slip)
	if slip == 0 {
		return Drop
	}
	n := e.slips
	if e.slips++; e.slips >= slip {
		e.slips = 0
	}
	if n == 0 {
		return Slip
	}
	return Drop
}

// key is the account's hash: the client's prefix, the class, the name.
func (t *Table) key(client netip.Addr, c Class, name string) uint64 {
	client = client.Unmap()
	var hi, lo uint64
	if client.Is4() {
		a := client.As4()
		v := uint64(a[0])<<24 | uint64(a[1])<<16 | uint64(a[2])<<8 | uint64(a[3])
		v &^= (1<<(32-t.cfg.IPv4Prefix) - 1)
		lo = v | 1<<40
	} else {
		a := client.As16()
		for i := range 8 {
			hi = hi<<8 | uint64(a[i])
			lo = lo<<8 | uint64(a[8+i])
		}
		if p := t.cfg.IPv6Prefix; p <= 64 {
			hi &^= (1<<(64-p) - 1)
			lo = 0
		} else {
			lo &^= (1<<(128-p) - 1)
		}
	}
	h := maphash.String(t.seed, name)
	h ^= mix(hi ^ mix(lo^uint64(c)<<56))
	return mix(h)
}

// mix is a 64-bit finaliser (SplitMix64's).
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// get returns the entry of k, made (or taken from the least recently
// used) if there is none, and moved to the front.
func (s *shard) get(k uint64) *entry {
	if s.idx == nil {
		s.idx = make(map[uint64]int32)
	}
	if i, ok := s.idx[k]; ok {
		s.touch(i)
		return &s.ents[i]
	}
	var i int32
	if len(s.ents) < s.max {
		s.ents = append(s.ents, entry{})
		i = int32(len(s.ents) - 1)
	} else {
		i = s.tail
		s.unlink(i)
		delete(s.idx, s.ents[i].key)
	}
	// A new account starts at the full rate (debit).
	s.ents[i] = entry{key: k, last: never, prev: -1, next: -1}
	s.idx[k] = i
	s.pushFront(i)
	return &s.ents[i]
}

func (s *shard) touch(i int32) {
	if s.head == i {
		return
	}
	s.unlink(i)
	s.pushFront(i)
}

func (s *shard) unlink(i int32) {
	e := &s.ents[i]
	if e.prev >= 0 {
		s.ents[e.prev].next = e.next
	} else {
		s.head = e.next
	}
	if e.next >= 0 {
		s.ents[e.next].prev = e.prev
	} else {
		s.tail = e.prev
	}
	e.prev, e.next = -1, -1
}

func (s *shard) pushFront(i int32) {
	e := &s.ents[i]
	e.prev, e.next = -1, s.head
	if s.head >= 0 {
		s.ents[s.head].prev = i
	}
	s.head = i
	if s.tail < 0 {
		s.tail = i
	}
}

// Len is the number of accounts held.
func (t *Table) Len() int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		n += len(s.idx)
		s.mu.Unlock()
	}
	return n
}
