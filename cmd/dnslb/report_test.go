package main

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
)

// This file formats TestCompare's findings: categories, counts and diffs.

// categorize names a difference by the kind of query and the parts that differ.
func categorize(q query, a, b reply) string {
	return q.kind + ": " + strings.Join(a.differences(b), "+")
}

// describe shows the query and, for each differing part, what each side said.
func describe(q query, an string, a reply, bn string, b reply) string {
	var s strings.Builder
	fmt.Fprintf(&s, "%s (%s)\n", q, q.kind)
	for _, part := range a.differences(b) {
		switch part {
		case "answer", "authority", "additional":
			fmt.Fprintf(&s, "  %s:\n", part)
			writeExtra(&s, an, a.section(part), b.section(part))
			writeExtra(&s, bn, b.section(part), a.section(part))
		default:
			fmt.Fprintf(&s, "  %s: %s=%s %s=%s\n", part, an, a.field(part), bn, b.field(part))
		}
	}
	return s.String()
}

// writeExtra lists the lines of x that y lacks, counting repeats, so a
// record sent twice shows up too.
func writeExtra(s *strings.Builder, name string, x, y []string) {
	left := map[string]int{}
	for _, l := range y {
		left[l]++
	}
	for _, l := range x {
		if left[l] > 0 {
			left[l]--
			continue
		}
		fmt.Fprintf(s, "    only %-8s %s\n", name, l)
	}
}

func (r reply) section(name string) []string {
	switch name {
	case "answer":
		return r.answer
	case "authority":
		return r.ns
	}
	return r.extra
}

func (r reply) field(name string) string {
	switch name {
	case "question":
		return r.question
	case "rcode":
		return r.rcode
	case "aa":
		return fmt.Sprint(r.aa)
	case "tc":
		return fmt.Sprint(r.tc)
	case "opt":
		return fmt.Sprint(r.opt)
	case "flags":
		return r.flags
	}
	return fmt.Sprintf("%q", r.err)
}

// report collects differences by category, in corpus order.
type report struct {
	disagree, mismatch, accepted map[string][]string
	// follows counts, where NSD and Knot disagree, whether dnslb gave
	// NSD's reply (true) or Knot's (false).
	follows map[bool]int
}

func (r *report) add(m *map[string][]string, category, text string) {
	if *m == nil {
		*m = map[string][]string{}
	}
	(*m)[category] = append((*m)[category], text)
}

func countAll(m map[string][]string) int {
	n := 0
	for _, v := range m {
		n += len(v)
	}
	return n
}

// log writes the summary: counts, and the first examples of each category.
func (r *report) log(t *testing.T, total int, withDNSLB bool) {
	t.Helper()
	examples := 3
	if os.Getenv("COMPARE_VERBOSE") != "" {
		examples = total
	}
	var s strings.Builder
	fmt.Fprintf(&s, "queries: %d; NSD and Knot agree on %d, disagree on %d\n",
		total, total-countAll(r.disagree), countAll(r.disagree))
	writeCategories(&s, "NSD vs Knot disagreement", r.disagree, 1)
	if withDNSLB {
		fmt.Fprintf(&s, "dnslb matches a reference on %d, differs from both on %d\n",
			total-countAll(r.mismatch)-countAll(r.accepted), countAll(r.mismatch))
		fmt.Fprintf(&s, "where NSD and Knot disagree, dnslb gave NSD's reply %d times, Knot's %d times\n",
			r.follows[true], r.follows[false])
		writeCategories(&s, "dnslb differs from both but is accepted", r.accepted, 1)
		writeCategories(&s, "dnslb mismatch", r.mismatch, examples)
	}
	t.Log(s.String())
}

func (r *report) full() string {
	var s strings.Builder
	writeCategories(&s, "NSD vs Knot disagreement", r.disagree, 1<<30)
	writeCategories(&s, "dnslb differs from both but is accepted", r.accepted, 1<<30)
	writeCategories(&s, "dnslb mismatch", r.mismatch, 1<<30)
	return s.String()
}

func writeCategories(s *strings.Builder, title string, m map[string][]string, examples int) {
	for _, c := range slices.Sorted(maps.Keys(m)) {
		fmt.Fprintf(s, "%s [%s]: %d\n", title, c, len(m[c]))
		for _, text := range m[c][:min(examples, len(m[c]))] {
			s.WriteString(text)
		}
	}
}
