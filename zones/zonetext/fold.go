package zonetext

import "bytes"

// HasGenericKey reports whether text has "key" (in any case) and a digit.
func HasGenericKey(text []byte) bool {
	for i := 0; ; {
		j := IndexFold(text[i:], "key")
		if j < 0 {
			return false
		}
		i += j + 3
		if i < len(text) && text[i] >= '0' && text[i] <= '9' {
			return true
		}
	}
}

// ContainsFold reports whether text holds word (lower case, ASCII) in any
// case, without the lower-case copy of the text that bytes.ToLower makes
// (as large as the zone file).
func ContainsFold(text []byte, word string) bool { return IndexFold(text, word) >= 0 }

// IndexFold is the index of the first word (lower case, ASCII, not empty)
// in text in any case, or -1.
func IndexFold(text []byte, word string) int {
	end := len(text) - len(word) + 1
	if end <= 0 {
		return -1
	}
	// Candidates are found with IndexByte (fast) for the first byte in
	// each case; each case's next match is kept until passed, so that a
	// case that never occurs is searched for once, not at every candidate.
	next := func(i int, c byte, at *int) int {
		if *at >= i || *at == -1 {
			return *at
		}
		if k := bytes.IndexByte(text[i:end], c); k >= 0 {
			*at = i + k
		} else {
			*at = -1
		}
		return *at
	}
	lo, up := word[0], word[0]
	if lo >= 'a' && lo <= 'z' {
		up = lo - 'a' + 'A'
	}
	atLo, atUp := -2, -2
	for i := 0; i < end; i++ {
		a, b := next(i, lo, &atLo), next(i, up, &atUp)
		switch {
		case a < 0 && b < 0:
			return -1
		case a < 0 || b >= 0 && b < a:
			i = b
		default:
			i = a
		}
		if EqualFold(text[i:i+len(word)], word) {
			return i
		}
	}
	return -1
}

// EqualFold reports whether b is word (lower case, ASCII) in any case.
func EqualFold(b []byte, word string) bool {
	for k := range len(word) {
		c := b[k]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != word[k] {
			return false
		}
	}
	return true
}
