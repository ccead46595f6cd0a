package config

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// This file turns what the toml library says about a value of the wrong
// kind into words an operator can act on, and finds the valid key or value
// nearest to a misspelt one.

// Suggest returns " (did you mean X?)" for the option X nearest to s, or ""
// if none is near enough: within two edits (one for words shorter than
// five letters, none for one letter; a swap of two neighbours counts as
// one), or else the only option that contains s or that s contains.
func Suggest(s string, options []string) string {
	if best := nearest(s, options); best != "" {
		return " (did you mean " + best + "?)"
	}
	return ""
}

func nearest(s string, options []string) string {
	ls := strings.ToLower(s)
	limit := 2
	switch n := len([]rune(ls)); {
	case n < 2:
		limit = 0
	case n < 5:
		limit = 1 // "ue" for "eu", "htp" for "http"
	}
	best, bestD := "", limit+1
	var within []string
	for _, o := range options {
		lo := strings.ToLower(o)
		if lo == ls {
			return "" // the same but for case: the message says enough
		}
		if d := editDistance(ls, lo); d < bestD {
			best, bestD = o, d
		}
		if len(ls) >= 3 && (strings.Contains(lo, ls) || strings.Contains(ls, lo)) {
			within = append(within, o)
		}
	}
	if best == "" && len(within) == 1 {
		best = within[0]
	}
	return best
}

// editDistance is the optimal string alignment distance of a and b: the
// fewest insertions, deletions, substitutions and swaps of two neighbours.
func editDistance(a, b string) int {
	r, s := []rune(a), []rune(b)
	// d[i][j] is the distance of r[:i] and s[:j]; three rows suffice.
	prev2, prev, cur := make([]int, len(s)+1), make([]int, len(s)+1), make([]int, len(s)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(r); i++ {
		cur[0] = i
		for j := 1; j <= len(s); j++ {
			cost := 1
			if r[i-1] == s[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && r[i-1] == s[j-2] && r[i-2] == s[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(s)]
}

// OneOf is the message for a value that is not one of the options:
// `"weigthed" is not one of round-robin, random, weighted, sticky (did you
// mean weighted?)`.
func OneOf(value string, options []string) string {
	return fmt.Sprintf("%q is not one of %s%s", value, strings.Join(options, ", "), Suggest(value, options))
}

// notOneOf finds `"x" is not one of a, b, c` in a message from elsewhere
// (the health check package) to add a suggestion to it.
var notOneOf = regexp.MustCompile(`"((?:[^"\\]|\\.)*)" is not one of ([A-Za-z0-9, -]+)$`)

// withSuggestion adds " (did you mean X?)" to a message that ends in
// `"x" is not one of a, b, c`.
func withSuggestion(msg string) string {
	m := notOneOf.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	v, err := strconv.Unquote(`"` + m[1] + `"`)
	if err != nil {
		return msg
	}
	if v == "" {
		return strings.TrimSuffix(msg, m[0]) + "is not set; it must be one of " + m[2]
	}
	return msg + Suggest(v, strings.Split(m[2], ", "))
}

// unknownKeyError is a key the table it is in has no field for; options
// are the keys it has.
type unknownKeyError struct{ options []string }

func (*unknownKeyError) Error() string { return "unknown key" }

// typeError is a value of the wrong kind or out of range: "KEY must be
// WANT; found FOUND". orig is the toml library's error, for its line.
type typeError struct {
	want, found string
	orig        error
}

func (e *typeError) Error() string { return e.orig.Error() }

// plainTypeError rewords the toml library's error on decoding prim into
// a value of type t, or returns err as it is if it cannot say better.
func plainTypeError(md toml.MetaData, prim toml.Primitive, t reflect.Type, err error) error {
	var v any
	if md.PrimitiveDecode(prim, &v) != nil {
		return err
	}
	want := wantOf(t)
	if want == "" {
		return err
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	found := foundOf(v)
	switch n := v.(type) {
	case float64:
		if kindOf(t) == "number" && t.Kind() != reflect.Float32 && t.Kind() != reflect.Float64 {
			want = "a whole number, like 3"
		}
	case int64:
		if lo, hi, ok := intRange(t); ok && (n < lo || uint64(n) > hi) {
			want = fmt.Sprintf("a number %d..%d", lo, hi)
			found = strconv.FormatInt(n, 10)
		}
	case []any:
		if t.Kind() == reflect.Slice {
			elem := kindOf(t.Elem())
			for i, e := range n {
				if kindOf(reflect.TypeOf(e)) != elem {
					found = fmt.Sprintf("a list whose entry %d is %s", i+1, foundOf(e))
					break
				}
			}
		}
	}
	return &typeError{want: want, found: found, orig: err}
}

// kindOf groups types as TOML sees them: string, number, bool, list, table.
func kindOf(t reflect.Type) string {
	if t == nil {
		return ""
	}
	if t == reflect.TypeFor[time.Duration]() || reflect.PointerTo(t).Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) {
		return "string"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Bool:
		return "bool"
	case reflect.Slice:
		return "list"
	case reflect.Map, reflect.Struct:
		return "table"
	case reflect.Pointer:
		return kindOf(t.Elem())
	}
	return ""
}

// wantOf says what a value of type t is written as in the file.
func wantOf(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeFor[time.Duration]() || t == reflect.TypeFor[Duration]() {
		return `a duration like "10s"`
	}
	switch t.Kind() {
	case reflect.String:
		return "a string in quotes"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a number, like 3"
	case reflect.Float32, reflect.Float64:
		return "a number, like 0.5"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice:
		switch kindOf(t.Elem()) {
		case "string":
			return `a list of strings, like ["a", "b"]`
		case "number":
			return "a list of numbers, like [1, 2]"
		case "table":
			return "a list of tables"
		}
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a table"
	}
	return ""
}

// foundOf describes a value as the toml library decoded it into any.
func foundOf(v any) string {
	switch v := v.(type) {
	case string:
		return "the string " + strconv.Quote(v)
	case int64:
		return "the number " + strconv.FormatInt(v, 10)
	case float64:
		return "the number " + strconv.FormatFloat(v, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	case []any:
		return "a list"
	case map[string]any:
		return "a table"
	case time.Time:
		return "a date"
	}
	return fmt.Sprintf("%v", v)
}

// intRange is the range of an integer type, if it is narrower than int64
// or unsigned.
func intRange(t reflect.Type) (lo int64, hi uint64, ok bool) {
	switch t.Kind() {
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return 0, 1<<t.Bits() - 1, true
	case reflect.Int8, reflect.Int16, reflect.Int32:
		return -1 << (t.Bits() - 1), 1<<(t.Bits()-1) - 1, true
	}
	return 0, 0, false
}

var (
	definedTwice = regexp.MustCompile(`^Key '(.*)' has already been defined\.$`)
	bareValue    = regexp.MustCompile(`^expected value but found "(.*)" instead$`)
)

// plainSyntax rewords the toml library's syntax errors that are common and
// cryptic; line is where the library found the error.
func plainSyntax(msg string, data []byte, line int) string {
	if m := definedTwice.FindStringSubmatch(msg); m != nil {
		what := m[1]
		lines := strings.Split(string(data), "\n")
		if line >= 1 && line <= len(lines) && strings.HasPrefix(strings.TrimSpace(lines[line-1]), "[") {
			what = "table [" + m[1] + "]"
		}
		if first, ok := keyLines(data)[normKey(m[1])]; ok && first != line {
			return fmt.Sprintf("%s is written twice (first at line %d)", what, first)
		}
		return what + " is written twice"
	}
	if m := bareValue.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("%s is not a value: write a string in quotes (%q), a number, true or false", m[1], m[1])
	}
	if msg == "strings cannot contain newlines" {
		return "a string is not closed: the quote that ends it is missing"
	}
	return msg
}

// nameHeader finds the table headers [name.www.example.org] and
// [[name.www.example.org.rules]], whose name is not quoted: TOML reads
// them as nested tables www, example, org.
var nameHeader = regexp.MustCompile(`^\[\[?\s*name\.([^"'\]]*)\]`)

// unquotedNames lists the names written without quotes in table headers,
// with the line of the first: "www.example.org" → 3. The first label
// is the table TOML made of them.
func unquotedNames(data []byte) (names []string, lines map[string]int) {
	lines = map[string]int{}
	for i, l := range strings.Split(string(data), "\n") {
		m := nameHeader.FindStringSubmatch(strings.TrimSpace(l))
		if m == nil {
			continue
		}
		parts := strings.Split(strings.TrimSpace(m[1]), ".")
		for j, p := range parts {
			if j > 0 && (p == "groups" || p == "rules" || p == "weights") {
				parts = parts[:j]
				break
			}
		}
		if len(parts) < 2 {
			continue // [name.www]: a name without dots needs no quotes
		}
		name := strings.Join(parts, ".")
		if _, seen := lines[name]; !seen {
			names = append(names, name)
			lines[name] = i + 1
		}
	}
	return names, lines
}

// durationAsNumber refuses a number for a time.Duration, which the toml
// library takes for nanoseconds: interval = 5 would probe every 5ns.
func durationAsNumber(md toml.MetaData, prim toml.Primitive, t reflect.Type) error {
	if t != reflect.TypeFor[time.Duration]() {
		return nil
	}
	var v any
	if md.PrimitiveDecode(prim, &v) != nil {
		return nil
	}
	if _, ok := v.(string); ok {
		return nil
	}
	return &typeError{want: wantOf(t), found: foundOf(v), orig: errors.New("not a duration")}
}

// firstUnder is "path:line" of the first line that sets a key below key
// (for [servr.extra], servr), or just path.
func firstUnder(path string, data []byte, key string) string {
	prefix, best := normKey(key)+".", 0
	for k, n := range keyLines(data) {
		if strings.HasPrefix(k, prefix) && (best == 0 || n < best) {
			best = n
		}
	}
	if best == 0 {
		return path
	}
	return fmt.Sprintf("%s:%d", path, best)
}
