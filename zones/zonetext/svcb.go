package zonetext

import (
	"slices"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// svcbPrivate is the first key of the private-use range (RFC 9460 section
// 14.3.2); the placeholders count down from its end.
const svcbPrivate = 65280

// SVCBGeneric rewrites the generic form of named keys in an entry's text,
// outside quotes, to placeholder keys, and the keyNNNNN names in a
// mandatory= list to the keys' names. It returns the text and the
// placeholders (placeholder to key), or nil when there is nothing to do.
func SVCBGeneric(text string) (string, map[dns.SVCBKey]dns.SVCBKey) {
	var b strings.Builder
	var ph map[dns.SVCBKey]dns.SVCBKey
	next := dns.SVCBKey(65534)
	for i := 0; i < len(text); {
		c := text[i]
		switch {
		case c == '"':
			j := i + 1
			for j < len(text) && text[j] != '"' {
				if text[j] == '\\' {
					j++
				}
				j++
			}
			j = min(j+1, len(text))
			b.WriteString(text[i:j])
			i = j
			continue
		case c == ';':
			j := strings.IndexByte(text[i:], '\n')
			if j < 0 {
				j = len(text) - i
			}
			b.WriteString(text[i : i+j])
			i += j
			continue
		}
		if i > 0 && !isBlank(text[i-1]) && text[i-1] != '(' {
			b.WriteByte(c) // inside a word
			i++
			continue
		}
		// A word starts here: its name runs to a blank, "=", a quote or
		// a parenthesis.
		j := i
		for j < len(text) && !isBlank(text[j]) && !strings.ContainsRune("=()\"", rune(text[j])) {
			j++
		}
		if j == i {
			b.WriteByte(c)
			i++
			continue
		}
		word := strings.ToLower(text[i:j])
		if word == "mandatory" && j < len(text) && text[j] == '=' {
			// The list may name keys in the generic form.
			e := j + 1
			for e < len(text) && !isBlank(text[e]) && text[e] != ')' && text[e] != '"' {
				e++
			}
			items := strings.Split(text[j+1:e], ",")
			for n, it := range items {
				if key, ok := genericKey(it); ok && named(key) {
					items[n] = key.String()
					if ph == nil {
						ph = map[dns.SVCBKey]dns.SVCBKey{}
					}
				}
			}
			b.WriteString(text[i:j+1] + strings.Join(items, ","))
			i = e
			continue
		}
		key, ok := genericKey(word)
		if !ok || !named(key) {
			b.WriteString(text[i:j])
			i = j
			continue
		}
		for strings.Contains(strings.ToLower(text), "key"+strconv.Itoa(int(next))) {
			next--
		}
		if next < svcbPrivate {
			return "", nil // no free placeholder: leave it to the zone parser
		}
		if ph == nil {
			ph = map[dns.SVCBKey]dns.SVCBKey{}
		}
		ph[next] = key
		b.WriteString("key" + strconv.Itoa(int(next)))
		next--
		i = j
	}
	if ph == nil {
		return "", nil
	}
	return b.String(), ph
}

// genericKey reads "keyNNNNN", NNNNN without leading zeros.
func genericKey(w string) (dns.SVCBKey, bool) {
	w = strings.ToLower(w)
	if !strings.HasPrefix(w, "key") || len(w) < 4 || len(w) > 3 && w[3] == '0' && len(w) > 4 {
		return 0, false
	}
	n, err := strconv.ParseUint(w[3:], 10, 16)
	if err != nil {
		return 0, false
	}
	return dns.SVCBKey(n), true
}

// named reports whether the zone parser knows key by a name.
func named(key dns.SVCBKey) bool {
	return key.String() != "key"+strconv.Itoa(int(key))
}

// SortSvcParams puts the parameters of an SVCB or HTTPS record in key
// order, as they go on the wire (RFC 9460 section 2.2) and as NSD, Knot
// and BIND print them.
func SortSvcParams(rr dns.RR) {
	var vals []dns.SVCBKeyValue
	switch r := rr.(type) {
	case *dns.SVCB:
		vals = r.Value
	case *dns.HTTPS:
		vals = r.Value
	}
	slices.SortStableFunc(vals, func(a, b dns.SVCBKeyValue) int { return int(a.Key()) - int(b.Key()) })
}
