// Package healthcheck probes backends (TCP, HTTP, HTTPS, ICMP, DNS) on a
// schedule and reports when a target changes between up and down.
//
// A Config describes one named check; NewChecker turns it into a Checker.
// A Target is a check applied to one address, identified by its Key
// (check name, address). The Scheduler probes each distinct Key once, at a
// random offset and then every interval with ±10% jitter, applies the rise
// and fall thresholds, and reports every change of state through the
// OnChange callback. Snapshot returns the status of every target, and
// WaitInitial lets a server hold off answering until the first results are
// in.
//
// It knows nothing of DNS answers or zones: dnslb supplies the targets and a
// callback, and decides what a status change means for the answers. It does
// not read config files either (Config only carries the TOML key names) and
// exports no metrics; Snapshot has the numbers for them.
package healthcheck
