package state

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

// TestAnswers: workers adding at once on their shards are summed exactly;
// an index out of range and a nil Answers count nothing.
func TestAnswers(t *testing.T) {
	a := newAnswers(3)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 3000 {
				a.Add(AnswerShard(uint32(w)), i%3)
			}
			a.Add(AnswerShard(uint32(w)), 3)
			a.Add(AnswerShard(uint32(w)), -1)
		})
	}
	// The sampler reads while they add.
	for range 10 {
		a.Counts(nil)
	}
	wg.Wait()
	if got, want := a.Counts(nil), []uint64{8000, 8000, 8000}; !slices.Equal(got, want) {
		t.Errorf("Counts = %v, want %v", got, want)
	}
	var none *Answers
	none.Add(0, 0)
	if got := none.Counts(nil); len(got) != 0 {
		t.Errorf("nil Counts = %v, want none", got)
	}
	if allocs := testing.AllocsPerRun(100, func() { a.Add(1, 2) }); allocs != 0 {
		t.Errorf("Add allocates %v times, want 0", allocs)
	}
}

// BenchmarkAnswersAdd is what counting one answer costs the query path:
// one worker adding on its own shard, every worker at once (each on its
// own shard, as the serving goroutines do), and, for comparison, every
// worker on one shard (what one counter per address would cost).
func BenchmarkAnswersAdd(b *testing.B) {
	a := newAnswers(3)
	b.Run("one", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			a.Add(0, i%3)
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		var id atomic.Uint32
		b.RunParallel(func(pb *testing.PB) {
			shard, i := AnswerShard(id.Add(1)-1), 0
			for pb.Next() {
				a.Add(shard, i%3)
				i++
			}
		})
	})
	b.Run("one-shard", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				a.Add(0, i%3)
				i++
			}
		})
	})
}
