package admin

import (
	"context"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/dnslb/dnslb/dnslb/config"
)

// history is what the status page draws: samples of the server's status
// taken every interval, each series in a ring of config.HistorySamples
// (an hour at 5 s), so its memory is bounded by the config's names and
// addresses whatever runs for how long.
type history struct {
	mu sync.Mutex
	// qps: queries per second by rcode between two samples.
	times []time.Time // ring of the samples' times
	qps   []map[string]float64
	last  map[string]float64 // the counters at the last sample
	lastT time.Time
	// health: the state of each address of each name, per sample.
	health map[addrKey]*healthRing
	// reloads: the last maxReloads reloads, oldest first.
	reloads []ReloadStatus
	n       int // samples taken, for the rings' positions
}

const maxReloads = 20

// addrKey is an address of a name.
type addrKey struct {
	name string
	addr netip.Addr
}

// healthRing is one address's state at each sample (index as history.times).
type healthRing struct {
	states []string
	seen   int // the sample it was last seen at
}

func newHistory() *history {
	return &history{health: make(map[addrKey]*healthRing)}
}

// AddressSample is one address's state as the history records it: what
// AddressStatus says of its State and Override.
type AddressSample struct {
	Name, State, Override string
	Addr                  netip.Addr
}

// Sampler is a Backend that gives the history what it samples without
// building a whole Status: the status of a config of 10,000 names was
// 90 MB of garbage every sample, a twentieth of a core, and on a server
// with one core it held up answers for tens of milliseconds each time.
type Sampler interface {
	// Sample calls add with every address of every load-balanced name
	// and returns the last reload's status.
	Sample(add func(AddressSample)) ReloadStatus
}

// record samples st and the query counters (by rcode) at now.
func (h *history) record(now time.Time, st Status, counts map[string]float64) {
	h.recordSample(now, func(add func(AddressSample)) ReloadStatus {
		for _, n := range st.Names {
			for _, a := range n.Addresses {
				add(AddressSample{Name: n.Name, Addr: a.Addr, State: a.State, Override: a.Override})
			}
		}
		return st.LastReload
	}, counts)
}

// recordSample records at now what sample gives (as Sampler.Sample) and
// the query counters (by rcode).
func (h *history) recordSample(now time.Time, sample func(add func(AddressSample)) ReloadStatus, counts map[string]float64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	i := h.n % config.HistorySamples
	if h.n < config.HistorySamples {
		h.times = append(h.times, now)
		h.qps = append(h.qps, nil)
	} else {
		h.times[i] = now
	}
	rates := make(map[string]float64, len(counts))
	if h.last != nil {
		if dt := now.Sub(h.lastT).Seconds(); dt > 0 {
			for rc, v := range counts {
				if d := v - h.last[rc]; d > 0 {
					rates[rc] = d / dt
				}
			}
		}
	}
	h.qps[i], h.last, h.lastT = rates, counts, now
	lr := sample(func(a AddressSample) {
		key := addrKey{a.Name, a.Addr}
		r := h.health[key]
		if r == nil {
			r = &healthRing{states: make([]string, config.HistorySamples)}
			h.health[key] = r
		}
		r.states[i], r.seen = shownState(a.State, a.Override), h.n
	})
	// Series of names and addresses a reload removed go once they have
	// left the window.
	for k, r := range h.health {
		if h.n-r.seen >= config.HistorySamples {
			delete(h.health, k)
		}
	}
	if !lr.Time.IsZero() && (len(h.reloads) == 0 || !h.reloads[len(h.reloads)-1].Time.Equal(lr.Time)) {
		h.reloads = append(h.reloads, lr)
		if len(h.reloads) > maxReloads {
			h.reloads = slices.Delete(h.reloads, 0, len(h.reloads)-maxReloads)
		}
	}
	h.n++
}

// shownState is the state a person reads for an address: an override's
// drain or down over the checks' verdict.
func shownState(state, override string) string {
	switch override {
	case "drain":
		return "drained"
	case "down":
		return "down"
	}
	return state
}

// view is a copy of the history in time order, for one page.
type historyView struct {
	Times   []time.Time
	QPS     []map[string]float64
	Rcodes  []string            // every rcode seen, NOERROR first
	Health  map[string][]string // "name address" → states, as Times
	Reloads []ReloadStatus      // newest first
}

func (h *history) view() historyView {
	h.mu.Lock()
	defer h.mu.Unlock()
	var v historyView
	start := 0
	if h.n > config.HistorySamples {
		start = h.n % config.HistorySamples
	}
	order := func(i int) int { return (start + i) % len(h.times) }
	rcodes := map[string]bool{}
	for i := range h.times {
		j := order(i)
		v.Times = append(v.Times, h.times[j])
		v.QPS = append(v.QPS, h.qps[j])
		for rc := range h.qps[j] {
			rcodes[rc] = true
		}
	}
	v.Rcodes = slices.SortedFunc(maps.Keys(rcodes), func(a, b string) int {
		switch {
		case a == b:
			return 0
		case a == "NOERROR":
			return -1
		case b == "NOERROR":
			return 1
		case a < b:
			return -1
		}
		return 1
	})
	v.Health = make(map[string][]string, len(h.health))
	for k, r := range h.health {
		s := make([]string, len(h.times))
		for i := range h.times {
			s[i] = r.states[order(i)]
		}
		v.Health[k.name+" "+k.addr.String()] = s
	}
	v.Reloads = slices.Clone(h.reloads)
	slices.Reverse(v.Reloads)
	return v
}

// sampleStatus records the backend's status every interval until ctx
// ends; the first sample at once.
func (a *Server) sampleStatus(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if sp, ok := a.backend.(Sampler); ok {
			a.hist.recordSample(time.Now(), sp.Sample, a.metrics.QueriesByRcode())
		} else {
			a.hist.record(time.Now(), a.backend.Status(), a.metrics.QueriesByRcode())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
