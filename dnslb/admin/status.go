package admin

import (
	"net/netip"
	"time"

	"github.com/dnslb/dnslb/dnslb/cluster"
)

// Status is everything the status page and the JSON API show: a plain
// value, built on request from the store, the prober and the reloader.
type Status struct {
	Version    string       `json:"version"`
	Started    time.Time    `json:"started"`
	Zones      []ZoneStatus `json:"zones"`
	Names      []NameStatus `json:"names"`
	LastReload ReloadStatus `json:"last_reload"`
	// StateFile is set when the override state file was invalid at startup.
	StateFile *StateFileStatus `json:"state_file,omitempty"`
	// Cluster is the fleet, with [cluster]: members, each target's
	// probers and their views.
	Cluster *cluster.Status `json:"cluster,omitempty"`
}

// ZoneStatus is one served zone.
type ZoneStatus struct {
	Name    string    `json:"name"`
	File    string    `json:"file"`
	Serial  uint32    `json:"serial"`
	Records int       `json:"records"`
	Loaded  time.Time `json:"loaded"`
	// DNSSEC is the zone's online signing, when it has keys.
	DNSSEC *DNSSECStatus `json:"dnssec,omitempty"`
}

// DNSSECStatus is what the sign stage holds and did for one zone since
// the keys were last loaded.
type DNSSECStatus struct {
	Keys []KeyStatus `json:"keys"`
	// Made counts signatures made; Hits RRsets whose signatures came
	// from the cache; Cached the RRsets it holds; SigningSeconds the time
	// spent making signatures.
	Made           uint64  `json:"signatures_made"`
	Hits           uint64  `json:"cache_hits"`
	Cached         int     `json:"cached_rrsets"`
	SigningSeconds float64 `json:"signing_seconds"`
	// Expires is when the signatures made now expire (the end of the
	// current validity window); Renew when the next window begins.
	Expires time.Time `json:"next_expiry"`
	Renew   time.Time `json:"next_window"`
}

// KeyStatus is one DNSSEC key of a zone.
type KeyStatus struct {
	Tag       uint16 `json:"tag"`
	Algorithm string `json:"algorithm"` // "ECDSAP256SHA256", "ED25519"
	Role      string `json:"role"`      // "KSK", "ZSK", "CSK"
}

// NameStatus is one load-balanced owner name.
type NameStatus struct {
	Name        string          `json:"name"`
	Zone        string          `json:"zone"`
	Policy      string          `json:"policy"` // e.g. "geo+weighted", "round-robin"
	Checks      []string        `json:"checks"`
	WhenAllDown string          `json:"when_all_down"`
	Override    string          `json:"override,omitempty"` // "", "drain", "up", "down"
	Addresses   []AddressStatus `json:"addresses"`

	// HealthyAddresses counts the addresses that are up: not down by a
	// check or an override, not drained.
	HealthyAddresses int `json:"healthy_addresses"`
	// AllDown is set while every address of the name (of one family at
	// least: AllDownTypes says which) is down, so when_all_down answers.
	AllDown      bool      `json:"all_down"`
	AllDownTypes []string  `json:"all_down_types,omitempty"` // "A", "AAAA"
	AllDownSince time.Time `json:"all_down_since,omitzero"`
}

// AddressStatus is one address of a name and its health.
type AddressStatus struct {
	Addr       netip.Addr    `json:"addr"`
	Group      string        `json:"group,omitempty"`
	State      string        `json:"state"`              // "up", "down", "shed", "unknown", "unchecked"
	Override   string        `json:"override,omitempty"` // "", "drain", "up", "down"
	LastResult string        `json:"last_result,omitempty"`
	LastCheck  time.Time     `json:"last_check,omitzero"`
	Latency    time.Duration `json:"latency_ns,omitempty"`
	Flaps      int           `json:"flaps"`
	// Share is the share of the answers for the name's addresses of this
	// family that led with this one over the last minute (12 samples of
	// status_interval), counted as they were sent, memo hits included; 0
	// for all when the family had no answers then.
	Share float64 `json:"share"`
	// Expected is the share the config and the health lead one to
	// expect now: the address's weight over the up addresses of its
	// family (0 when it is down, shed or drained). A geo, nearest or
	// failover name sends each client to one group, so the two differ.
	Expected float64 `json:"expected_share"`
	// Answers counts the answers that led with the address since its
	// name was last loaded.
	Answers uint64    `json:"answers"`
	Since   time.Time `json:"since,omitzero"`
	// Load is what the address's load check reports and what the
	// policy makes of it (nil without a load check or a timed pick).
	Load *AddressLoad `json:"load,omitempty"`
}

// AddressLoad is the load of one address as the current generation
// has it. State is "shed" (above the high watermark: left out, but
// healthy) when shed, the address's State then saying "shed" too.
type AddressLoad struct {
	Reported *float64      `json:"reported,omitempty"` // the last report (weight or share of capacity)
	Smoothed *float64      `json:"smoothed,omitempty"` // the value answers use
	Kind     string        `json:"kind,omitempty"`     // "weight" or "load"
	RTT      time.Duration `json:"rtt_ns,omitempty"`   // smoothed probe round-trip time (pick fastest)
	Shed     bool          `json:"shed"`
}

// ReloadStatus is the outcome of the last reload.
type ReloadStatus struct {
	Time    time.Time `json:"time,omitzero"`
	OK      bool      `json:"ok"`
	Trigger string    `json:"trigger,omitempty"` // "sighup", "api", "file change", "startup"
	Errors  []string  `json:"errors,omitempty"`
	// Changes says what a successful reload changed, one item each:
	// "zone example.net. added", "zone example.org. serial 1 -> 2",
	// "name www.example.org. removed"; "zones and names unchanged" when none
	// of those changed (settings may have).
	Changes []string `json:"changes,omitempty"`
}

// StateFileStatus is what was wrong with the state file at startup.
type StateFileStatus struct {
	File    string    `json:"file"`
	MovedTo string    `json:"moved_to,omitempty"` // where the file as found was kept
	Errors  []string  `json:"errors"`
	Time    time.Time `json:"time"`
}
