package metrics

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// QueryLog writes a sample of queries to a file, one line each:
//
//	2026-11-25T22:00:00.000Z 198.51.100.7 udp www.example.org. A NOERROR 3 geo+round-robin 41µs
//
// It is for looking at traffic, not for accounting: the sample rate keeps
// its cost bounded whatever clients send. The sample is drawn before a
// query is answered (pick), so the others keep the precomputed replies;
// a picked query takes the full path, which knows the policy it used.
// A reload opens the file again (after logrotate has moved it away) and
// takes a new path or sample rate from the
type QueryLog struct {
	mu     sync.Mutex
	f      *os.File
	path   string
	sample float64
}

func OpenQueryLog(path string, sample float64) (*QueryLog, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("query log: %w", err)
	}
	return &QueryLog{f: f, path: path, sample: sample}, nil
}

// Pick reports whether the next query is one of the sample (false
// without a query log).
func (l *QueryLog) Pick() bool { return l != nil && rand.Float64() < l.sample }

// Write logs one query that Pick chose, from client from.
func (l *QueryLog) Write(from netip.Addr, tcp bool, req, m *dns.Msg, policy string, d time.Duration) {
	if l == nil || len(req.Question) == 0 {
		return
	}
	q := req.Question[0]
	proto := "udp"
	if tcp {
		proto = "tcp"
	}
	line := fmt.Sprintf("%s %s %s %s %s %s %d %s %s\n", time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		from, proto, q.Name, dns.Type(q.Qtype), dns.RcodeToString[m.Rcode], len(m.Answer), cmp.Or(policy, "-"), d)
	l.mu.Lock()
	_, _ = l.f.WriteString(line)
	l.mu.Unlock()
}

// Close closes the file. A write still running on another goroutine
// finishes first or fails; it never reaches another file.
func (l *QueryLog) Close() error {
	if l == nil {
		return nil
	}
	return l.f.Close()
}
