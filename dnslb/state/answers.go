package state

import (
	"runtime"
	"sync/atomic"
)

// Answers counts, for each address of one load-balanced name, the answers
// that led with it (the address a client takes first), memo hits
// included. It belongs to the compiled Name, so its counts run on across
// the snapshots of health changes and overrides and start again when a
// reload compiles the name anew.
//
// The query path adds to it with no lock and no allocation: the counters
// are sharded by the serving worker (AnswerShard), each shard on cache
// lines of its own, so the workers never write the same line. The status
// sampler sums the shards (Counts), off the query path.
type Answers struct {
	n      int // addresses
	stride int // counters per shard: n rounded up to a whole cache line
	c      []atomic.Uint64
}

// answerShards is how many shards every Answers has: a power of two at
// least twice GOMAXPROCS (the UDP and the TCP workers of one listen
// address), at most 64.
var answerShards = func() int {
	n := 1
	for n < 2*runtime.GOMAXPROCS(0) && n < 64 {
		n <<= 1
	}
	return n
}()

// AnswerShard returns the shard the worker numbered id adds to.
func AnswerShard(id uint32) int { return int(id) & (answerShards - 1) }

// newAnswers returns the counters of a name of n addresses.
func newAnswers(n int) *Answers {
	const line = 8 // counters of 8 bytes per 64-byte line
	stride := (n + line - 1) / line * line
	// One line more, so that the first shard's line is not shared with
	// whatever the allocator puts before the array.
	c := make([]atomic.Uint64, answerShards*stride+line)
	return &Answers{n: n, stride: stride, c: c[line:]}
}

// Add counts one answer leading with address i (an index of the name's
// Policy.Addr) for the worker of shard (AnswerShard). A nil Answers, or an
// i out of range, counts nothing.
func (a *Answers) Add(shard, i int) {
	if a == nil || uint(i) >= uint(a.n) {
		return
	}
	a.c[shard*a.stride+i].Add(1)
}

// Counts returns the answers counted for each address so far, summed over
// the shards, into dst (grown as needed).
func (a *Answers) Counts(dst []uint64) []uint64 {
	if a == nil {
		return dst[:0]
	}
	dst = append(dst[:0], make([]uint64, a.n)...)
	for s := range answerShards {
		for i := range a.n {
			dst[i] += a.c[s*a.stride+i].Load()
		}
	}
	return dst
}
