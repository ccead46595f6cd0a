package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/netip"
)

// FeedEntry is one pushed value for an address, in the manner of NS1's
// data feeds: a weight, a load (share of capacity) or a state. It holds
// for the server's health.feed_ttl unless pushed again.
type FeedEntry struct {
	Address string   `json:"address"`
	Weight  *float64 `json:"weight,omitempty"`
	Load    *float64 `json:"load,omitempty"`
	State   string   `json:"state,omitempty"` // "up" or "down"
}

// FeedRequest is the body of POST /api/feed.
type FeedRequest struct {
	Feed []FeedEntry `json:"feed"`
}

// Feeder is a Backend that takes pushed loads and states. Feed applies
// every entry or, with an error wrapping ErrUnknownTarget for an address
// no name has, none.
type Feeder interface {
	Feed(entries []FeedEntry) error
}

// checkFeed lists what is wrong with the entries, each as feed[i].key.
func checkFeed(entries []FeedEntry) error {
	var errs []error
	for i, e := range entries {
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("feed[%d].%s", i, fmt.Sprintf(format, args...)))
		}
		if _, err := netip.ParseAddr(e.Address); err != nil {
			bad("address: %q is not an IP address", e.Address)
		}
		switch {
		case e.Weight != nil && e.Load != nil:
			bad("weight: weight and load are exclusive")
		case e.Weight == nil && e.Load == nil && e.State == "":
			bad("address: %s: nothing to set, want weight, load or state", e.Address)
		}
		if e.Weight != nil && (math.IsNaN(*e.Weight) || *e.Weight < 0 || *e.Weight > 1000) {
			bad("weight: %v out of range 0..1000", *e.Weight)
		}
		if e.Load != nil && (math.IsNaN(*e.Load) || *e.Load < 0 || *e.Load > 100) {
			bad("load: %v out of range 0..100", *e.Load)
		}
		if e.State != "" && e.State != "up" && e.State != "down" {
			bad("state: %q is not one of up, down", e.State)
		}
	}
	return errors.Join(errs...)
}

func (a *Server) apiFeed(w http.ResponseWriter, r *http.Request) {
	f, ok := a.backend.(Feeder)
	if !ok {
		httpError(w, r, http.StatusNotFound, "this server takes no feed")
		return
	}
	var req FeedRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		httpError(w, r, http.StatusBadRequest, "body: "+err.Error())
		return
	}
	if err := checkFeed(req.Feed); err != nil {
		httpError(w, r, http.StatusBadRequest, err.Error())
		return
	}
	if err := f.Feed(req.Feed); err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, ErrUnknownTarget) {
			code = http.StatusNotFound
		}
		httpError(w, r, code, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, ActionResult{OK: true})
}
