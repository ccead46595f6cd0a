package dnslb

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/answer"
)

// queryLog writes a sample of queries to a file, one line each:
//
//	2026-11-25T22:00:00.000Z 198.51.100.7 udp www.example.org. A NOERROR 3 geo+round-robin 41µs
//
// It is for looking at traffic, not for accounting: the sample rate keeps
// its cost bounded whatever clients send. The sample is drawn before a
// query is answered (pick), so the others keep the precomputed replies;
// a picked query takes the full path, which knows the policy it used.
// A reload opens the file again (after logrotate has moved it away) and
// takes a new path or sample rate from the
type queryLog struct {
	mu     sync.Mutex
	f      *os.File
	path   string
	sample float64
}

func openQueryLog(path string, sample float64) (*queryLog, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("query log: %w", err)
	}
	return &queryLog{f: f, path: path, sample: sample}, nil
}

// pick reports whether the next query is one of the sample (false
// without a query log).
func (l *queryLog) pick() bool { return l != nil && rand.Float64() < l.sample }

// write logs one query that pick chose.
func (l *queryLog) write(c answer.Client, req, m *dns.Msg, policy string, d time.Duration) {
	if l == nil || len(req.Question) == 0 {
		return
	}
	q := req.Question[0]
	proto := "udp"
	if c.TCP {
		proto = "tcp"
	}
	line := fmt.Sprintf("%s %s %s %s %s %s %d %s %s\n", time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		c.Addr.Addr(), proto, q.Name, dns.Type(q.Qtype), dns.RcodeToString[m.Rcode], len(m.Answer), cmp.Or(policy, "-"), d)
	l.mu.Lock()
	_, _ = l.f.WriteString(line)
	l.mu.Unlock()
}

// Close closes the file. A write still running on another goroutine
// finishes first or fails; it never reaches another file.
func (l *queryLog) Close() error {
	if l == nil {
		return nil
	}
	return l.f.Close()
}
