// Package state holds the generation: everything a query reads, as one
// immutable Snapshot behind one atomic pointer (Store.Snapshot) — the
// zones, each load-balanced name with its health view (NameView), the
// serving settings, the GeoIP data and the round-robin counters. A reload
// (Replace), a health change (SetHealth), an override (SetOverride), new
// GeoIP data (SetGeo) or new settings (SetServing) publish a new one, so
// anything made from a snapshot is stale exactly when its pointer is not
// the current one.
//
// It also compiles the [name] tables against the zones (CompileNames).
// It is the only importer of go-memdb, which keeps the health and
// override rows that the snapshots are built from, and the keeper of the
// overrides' durable copy, [health] state_file (OverrideFile: one writer,
// atomic replace, a corrupt file kept aside). It leaves out reading zone
// files (dnslb/zonefile) and the config (package dnslb's load and reload), answering and
// probing.
package state
