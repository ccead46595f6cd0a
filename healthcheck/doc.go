// Package healthcheck probes backends (TCP, HTTP, HTTPS, ICMP, DNS) on a
// schedule and reports when a target changes between up and down.
//
// It knows nothing of DNS answers or zones: dnslb supplies the targets and a
// callback, and decides what a status change means for the answers.
package healthcheck
