package dnslb

import (
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestFleetTable measures issue 17's table for fleets of 3, 5 and 9 nodes
// on loopback, over the harness of fleetn_test.go (real HTTP backends,
// real DNS over UDP). It is long (about a minute per N), so it runs only
// when asked:
//
//	DNSLB_FLEET_TABLE=1 go test -run TestFleetTable -count=1 -v -timeout 15m ./dnslb/
//
// Per N it measures, and prints in one table at the end:
//   - probes per target per interval, counted at the backends over a
//     steady window of tableWindow (want probers ± 0.5, not N);
//   - gossip bytes per second per node over the same window, from
//     dnslb_cluster_gossip_bytes_total (sent and received, mean over the
//     nodes);
//   - exclusion: tableKills times a backend is killed (round robin), and
//     the time until every node stops serving it is taken (the last
//     node's first answer without it, polled every 5 ms); p50 and max
//     over the kills, which must stay within exclusionBound; each killed
//     backend is started again and served by every node before the next;
//   - agreement: while those kills and restarts go on (the churn), rounds
//     of queries: in a round the same question (www.example.org A) is sent
//     at once, one goroutine per node, to every node over UDP (miekg/dns
//     client). Each node's answer is its set of A records ("" for a failed
//     exchange); the round's majority answer is the one more than half of
//     the nodes gave (none when no answer has a strict majority). A query
//     agrees when its answer is its round's majority answer. Agreement is
//     agreeing queries / all queries, over at least tableQueries queries
//     (rounds are paced so they span the churn; the churn goes on until
//     both the kills and the queries are done). Goal: ≥ 99.9%.
func TestFleetTable(t *testing.T) {
	if os.Getenv("DNSLB_FLEET_TABLE") == "" || testing.Short() {
		t.Skip("long: set DNSLB_FLEET_TABLE=1 to measure the fleet table")
	}
	var rows []string
	for _, n := range []int{3, 5, 9} {
		t.Run(fmt.Sprintf("N=%d", n), func(t *testing.T) {
			rows = append(rows, measureFleet(t, n))
		})
	}
	t.Logf("fleet table (probers 3, 4 backends, check interval 1s, fall 2, rise 1; loopback):\n"+
		"  N | exclusion p50 / max (bound) | probes/target/interval | agreement (queries) | gossip B/s per node (sent / received)\n%s",
		joinLines(rows))
}

const (
	tableProbers = 3
	tableFall    = 2
	tableKills   = 10
	tableQueries = 10000
	tableWindow  = 10 * time.Second // steady window for probes and bytes
	tableChurn   = 90 * time.Second // the churn's bound
)

func joinLines(rows []string) string {
	out := ""
	for _, r := range rows {
		out += r + "\n"
	}
	return out
}

// measureFleet measures one N and returns its table row.
func measureFleet(t *testing.T, n int) string {
	const interval = time.Second
	begun := time.Now()
	f := startFleet(t, fleetOpts{nodes: n, backends: 4, probers: tableProbers, interval: interval.String(), fall: tableFall})
	all := f.ips()
	waitForLong(t, 15*time.Second, "every node to serve all four", func() bool { return allAnswer(f.nodes, all) })
	// Until the join every node probed everything alone: let the moved
	// targets' schedules stop.
	time.Sleep(2 * time.Second)

	// Steady window: probes at the backends, gossip bytes at the nodes.
	hits := make([]int64, len(f.backends))
	for i, b := range f.backends {
		hits[i] = b.hits.Load()
	}
	const sent, recv = `dnslb_cluster_gossip_bytes_total{direction="sent"}`, `dnslb_cluster_gossip_bytes_total{direction="received"}`
	bytesAt := func() (s, r float64) {
		for _, m := range f.nodes {
			s += metricValue(t, m.srv, sent)
			r += metricValue(t, m.srv, recv)
		}
		return s, r
	}
	s0, r0 := bytesAt()
	w0 := time.Now()
	time.Sleep(tableWindow)
	s1, r1 := bytesAt()
	secs := time.Since(w0).Seconds()
	perNode := func(a, b float64) float64 { return (b - a) / secs / float64(n) }
	var rateSum float64
	for i, b := range f.backends {
		rate := float64(b.hits.Load()-hits[i]) / (secs / interval.Seconds())
		rateSum += rate
		if rate < tableProbers-0.5 || rate > tableProbers+0.5 {
			t.Errorf("backend %s: %.2f probes per interval, want %d (probers), not %d (nodes)", b.ip, rate, tableProbers, n)
		}
	}
	probes := rateSum / float64(len(f.backends))

	// Churn: kills and restarts, with rounds of queries alongside.
	var stop atomic.Bool
	var agree agreement
	rounds := (tableQueries + n - 1) / n
	// Paced to span about the kills' time (a kill and its restart take
	// about 2.5 s): the churn goes on until both are done anyway.
	pace := time.Duration(tableKills) * 5 * time.Second / 2 / time.Duration(rounds)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			agree.round(f.nodes)
			time.Sleep(pace)
		}
	}()
	var worst []time.Duration // per kill, the last node's exclusion
	var each []time.Duration  // per kill and node
	bound := exclusionBound(tableFall, interval)
	churnEnd := time.Now().Add(tableChurn)
	for k := 0; k < tableKills || agree.queries() < tableQueries; k++ {
		if time.Now().After(churnEnd) {
			stop.Store(true)
			wg.Wait()
			t.Fatalf("churn not done after %v: %d kills, %d queries", tableChurn, k, agree.queries())
		}
		b := f.backends[k%len(f.backends)]
		want := f.ips(b)
		died := time.Now()
		b.kill()
		got := exclusionTimes(t, f.nodes, want, died, 10*time.Second)
		last := time.Duration(0)
		for _, d := range got {
			each = append(each, d)
			last = max(last, d)
		}
		worst = append(worst, last)
		b.start(t)
		waitForLong(t, 10*time.Second, "every node to serve "+b.ip+" again", func() bool { return allAnswer(f.nodes, all) })
		time.Sleep(300 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	slices.Sort(worst)
	slices.Sort(each)
	p50, mx := worst[len(worst)/2], worst[len(worst)-1]
	share := agree.share()
	t.Logf("N=%d: exclusion on every node p50 %v max %v over %d kills (per node: p50 %v p99 %v); bound %v",
		n, p50.Round(time.Millisecond), mx.Round(time.Millisecond), len(worst), each[len(each)/2].Round(time.Millisecond),
		each[(len(each)*99-1)/100].Round(time.Millisecond), bound)
	t.Logf("N=%d: %.2f probes per target per interval; gossip %.0f B/s sent, %.0f B/s received per node over %.1fs",
		n, probes, perNode(s0, s1), perNode(r0, r1), secs)
	t.Logf("N=%d: agreement %.4f%% of %d queries (%d rounds, %d with a disagreement, %d without a majority); took %v in all",
		n, 100*share, agree.queries(), agree.rounds, agree.split, agree.noMajority, time.Since(begun).Round(time.Second))
	for _, ex := range agree.examples {
		t.Logf("N=%d: split round at %s", n, ex)
	}
	if mx > bound {
		t.Errorf("N=%d: the last node excluded a dead backend after %v, want within %v", n, mx, bound)
	}
	if share < 0.999 {
		t.Errorf("N=%d: agreement %.4f%%, want ≥ 99.9%%", n, 100*share)
	}
	return fmt.Sprintf("%3d | %6v / %6v (%v) | %.2f | %.3f%% (%d) | %.0f / %.0f",
		n, p50.Round(time.Millisecond), mx.Round(time.Millisecond), bound, probes, 100*share, agree.queries(),
		perNode(s0, s1), perNode(r0, r1))
}

// agreement counts TestFleetTable's rounds of queries.
type agreement struct {
	mu                        sync.Mutex
	rounds, split, noMajority int
	total, agreed             int
	examples                  []string // the first few split rounds
}

// round sends www.example.org A to every node at once and counts each
// answer against the round's majority answer.
func (a *agreement) round(ms []*member) {
	answers := make([]string, len(ms))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, m := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			answers[i] = wwwOf(m)
		}()
	}
	close(start)
	wg.Wait()
	count := map[string]int{}
	for _, ans := range answers {
		count[ans]++
	}
	majority, has := "", false
	for ans, c := range count {
		if 2*c > len(ms) {
			majority, has = ans, true
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.rounds++
	a.total += len(ms)
	if len(count) > 1 {
		a.split++
		if len(a.examples) < 5 {
			// The minority's answers: which nodes switched early or late.
			var ex []string
			for i, m := range ms {
				if count[answers[i]] < len(ms)/2+1 {
					ex = append(ex, m.name+"="+answers[i])
				}
			}
			a.examples = append(a.examples, time.Now().Format("15:04:05.000")+" "+fmt.Sprint(ex))
		}
	}
	if !has {
		a.noMajority++
		return
	}
	a.agreed += count[majority]
}

func (a *agreement) queries() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.total
}

func (a *agreement) share() float64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.total == 0 {
		return 0
	}
	return float64(a.agreed) / float64(a.total)
}
