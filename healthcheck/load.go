package healthcheck

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/netip"
	"strconv"
	"time"
)

// ReportKind says what a backend's load report gives.
type ReportKind uint8

const (
	// NoReport: the probe carried no load report (not a load check, or
	// the probe failed).
	NoReport ReportKind = iota
	// ReportWeight: a weight, the bare number PowerDNS pickselfweighted
	// reads or {"weight": N}. Larger means more traffic.
	ReportWeight
	// ReportLoad: the share of capacity in use, from {"load": x} or
	// {"connections": n} over the configured capacity: 0 idle, 1 full.
	ReportLoad
)

// String returns "weight", "load" or "".
func (k ReportKind) String() string {
	switch k {
	case ReportWeight:
		return "weight"
	case ReportLoad:
		return "load"
	}
	return ""
}

// Report is what one backend said about its load, or the smoothed value
// of what it said (Status.Load).
type Report struct {
	Kind  ReportKind
	Value float64
}

// MaxReportedWeight bounds a reported weight, as the static weights are.
const MaxReportedWeight = 1000

// loadChecker is the load check: an http or https GET whose body is the
// backend's load report. A response that fails the http rules or whose
// body is no report fails the probe.
type loadChecker struct {
	http     *httpChecker
	capacity float64
}

func newLoadChecker(cfg Config) (*loadChecker, error) {
	hc := cfg
	hc.Type = TypeHTTP
	if cfg.Scheme == TypeHTTPS {
		hc.Type = TypeHTTPS
	}
	h, err := newHTTPChecker(hc)
	if err != nil {
		return nil, err
	}
	return &loadChecker{http: h, capacity: cfg.Capacity}, nil
}

func (c *loadChecker) Check(ctx context.Context, addr netip.Addr) Result {
	body, res := c.http.get(ctx, addr, true)
	if !res.OK {
		return res
	}
	rep, why := parseReport(body, c.capacity)
	if why != "" {
		res.OK, res.Reason = false, why
		return res
	}
	res.Report = rep
	return res
}

// parseReport reads a load report: a bare number (a weight), or a JSON
// object with exactly one of weight, load (over capacity, default 1) or
// connections (over capacity, required). It returns the reason the body is
// not a report, or "".
func parseReport(body []byte, capacity float64) (Report, string) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return Report{}, "empty load report"
	}
	if body[0] != '{' {
		w, err := strconv.ParseFloat(string(body), 64)
		if err != nil {
			return Report{}, "load report is neither a number nor a JSON object"
		}
		return weightReport(w)
	}
	var r struct {
		Weight      *float64 `json:"weight"`
		Load        *float64 `json:"load"`
		Connections *float64 `json:"connections"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return Report{}, "load report: bad JSON"
	}
	n := 0
	for _, p := range []*float64{r.Weight, r.Load, r.Connections} {
		if p != nil {
			n++
		}
	}
	if n != 1 {
		return Report{}, "load report: want exactly one of weight, load, connections"
	}
	switch {
	case r.Weight != nil:
		return weightReport(*r.Weight)
	case r.Load != nil:
		if capacity == 0 {
			capacity = 1
		}
		return loadReport(*r.Load / capacity)
	}
	if capacity == 0 {
		return Report{}, "load report: connections need a capacity in the check"
	}
	return loadReport(*r.Connections / capacity)
}

func weightReport(w float64) (Report, string) {
	if math.IsNaN(w) || w < 0 {
		return Report{}, "load report: weight is negative"
	}
	return Report{Kind: ReportWeight, Value: min(w, MaxReportedWeight)}, ""
}

func loadReport(l float64) (Report, string) {
	if math.IsNaN(l) || l < 0 {
		return Report{}, "load report: load is negative"
	}
	// Far past full is as full as it matters; keep the EWMA finite.
	return Report{Kind: ReportLoad, Value: min(l, 100)}, ""
}

// smooth is one step of an exponentially weighted moving average with
// half-life hl over a gap of dt: the old value keeps 2^(-dt/hl) of its
// weight. hl 0 means no smoothing.
func smooth(old, sample float64, dt, hl time.Duration) float64 {
	if hl <= 0 {
		return sample
	}
	if dt <= 0 {
		return old
	}
	keep := math.Exp2(-float64(dt) / float64(hl))
	return old*keep + sample*(1-keep)
}

// halfLife is the smoothing half-life of target config c: half_life, or
// one interval by default.
func (c Config) halfLife() time.Duration {
	if c.HalfLife > 0 {
		return c.HalfLife
	}
	return c.Interval
}

// sample folds one probe result into the smoothed load and round-trip
// time. A report of another kind than the smoothed one replaces it.
func (s *Status) sample(r Result, prev time.Time, now time.Time, hl time.Duration) {
	dt := now.Sub(prev)
	if r.OK {
		if s.RTT == 0 {
			s.RTT = r.Latency
		} else {
			s.RTT = time.Duration(smooth(float64(s.RTT), float64(r.Latency), dt, hl))
		}
	}
	if r.Report.Kind == NoReport {
		return
	}
	if s.Load.Kind != r.Report.Kind {
		s.Load = r.Report
		return
	}
	s.Load.Value = smooth(s.Load.Value, r.Report.Value, dt, hl)
}
