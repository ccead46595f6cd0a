// Package cluster makes a dnslb server one node of a fleet of nameservers
// that share health: it runs the membership (github.com/hashicorp/memberlist,
// SWIM gossip with failure detection; this is the only package importing
// it), splits the probing (each target's probers are chosen by rendezvous
// hashing of its check and address over the live members), gossips this
// node's observations (per target: up or down, since when, a sequence
// number) as user broadcasts and in full by push/pull, and decides each
// target's verdict by a quorum of its probers' fresh observations.
//
// Merges are idempotent and commutative: for each (node, target) the
// observation with the highest sequence number wins, whatever order and
// however often they arrive. Freshness is the local time an observation
// with a new sequence was heard, so the nodes' clocks need not agree.
//
// It leaves out probing (package healthcheck does it, on the targets
// Local says), the health rows (the OnVerdict callback writes them into
// dnslb/state), and cluster-wide overrides and config digests (issue 17's
// later slices).
package cluster
