// Package share works out each load-balanced address's share of its
// name's answers: counted (Meter, from the per-address counters the query
// path adds to, state.Answers, over a window of samples) and expected
// (Expected, from the config's weights and the snapshot's health). The
// status page and the dnslb_name_address_share and
// dnslb_name_address_answers_total metrics show them; package dnslb runs
// the sampling loop. It leaves out counting (the query path) and
// exporting (dnslb/metrics).
package share
