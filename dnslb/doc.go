// Package dnslb is the wiring of the server: New (new.go) loads the config
// and every zone and builds the generation, Run (run.go) opens the
// listeners and starts the serving goroutines, the prober, the admin
// listener and the file watcher, and Reload (reload.go) builds a new state
// off to the side and swaps it in. Server (server.go) holds what they
// share.
//
// Beside that it keeps only the glue between packages: the stage hooks it
// hands the answer path (account.go, ratelimit.go, the cookie
// secrets), the admin Backend (backend.go, explainapi.go, feed.go, dnssecops.go), the
// prober's callbacks and the fleet (backend.go, fleet.go), and sd_notify.
// It leaves out the concerns themselves: answering (dnslb/answer,
// dnslb/wire), sockets (dnslb/serve), the generation and the overrides'
// file (dnslb/state), policies (dnslb/policy), GeoIP (dnslb/geo),
// reading zone files and the memory loads take (dnslb/zonefile), answers' shares (dnslb/share),
// transfers and TSIG (dnslb/transfer), online signing (dnslb/sign,
// dnslb/dnssec), the HTTP listener (dnslb/admin),
// metrics (dnslb/metrics), zone files (zones) and probing (healthcheck).
package dnslb
