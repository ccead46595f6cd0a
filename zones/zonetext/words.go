package zonetext

import (
	"regexp"
	"strings"
)

// This file rewords the zone parser's (miekg/dns) "bad TYPE Field"
// messages, `bad MX Pref: "x"`, as what the field must be and what was
// found: `the MX preference must be a number 0..65535; found "x"`.

// Ranges and kinds of value, as the messages say them.
const (
	u8     = "a number 0..255"
	u16    = "a number 0..65535"
	u32    = "a number 0..4294967295"
	domain = "a domain name"
	quoted = "a string in quotes"
)

// fieldWords maps "TYPE Field" of the parser's message to the field's
// name in words and what it must be. "* Field" applies to every type.
var fieldWords = map[string][2]string{
	"MX Pref":               {"preference", u16},
	"MX Mx":                 {"mail server", domain},
	"SOA Ns":                {"primary name server", domain},
	"SOA Mbox":              {"mailbox", "a domain name, like hostmaster.example.org."},
	"SOA zone parameter":    {"serial and timers", "numbers (the timers may be durations like 1h)"},
	"SRV Priority":          {"priority", u16},
	"SRV Weight":            {"weight", u16},
	"SRV Port":              {"port", u16},
	"SRV Target":            {"target", domain},
	"NS Ns":                 {"name server", domain},
	"CNAME Target":          {"target", domain},
	"DNAME Target":          {"target", domain},
	"PTR Ptr":               {"target", domain},
	"CAA Flag":              {"flags", u8},
	"CAA Tag":               {"tag", "letters and digits, like issue"},
	"CAA Value":             {"value", quoted},
	"TLSA Usage":            {"certificate usage", u8},
	"TLSA Selector":         {"selector", u8},
	"TLSA MatchingType":     {"matching type", u8},
	"SMIMEA Usage":          {"certificate usage", u8},
	"SMIMEA Selector":       {"selector", u8},
	"SMIMEA MatchingType":   {"matching type", u8},
	"SSHFP Algorithm":       {"algorithm", u8},
	"SSHFP Type":            {"fingerprint type", u8},
	"URI Priority":          {"priority", u16},
	"URI Weight":            {"weight", u16},
	"URI Target":            {"target", quoted},
	"NAPTR Order":           {"order", u16},
	"NAPTR Preference":      {"preference", u16},
	"NAPTR Flags":           {"flags", quoted},
	"NAPTR Service":         {"service", quoted},
	"NAPTR Regexp":          {"regular expression", quoted},
	"NAPTR Replacement":     {"replacement", domain},
	"KX Pref":               {"preference", u16},
	"KX Exchanger":          {"exchanger", domain},
	"RT Preference":         {"preference", u16},
	"RT Host":               {"host", domain},
	"AFSDB Subtype":         {"subtype", u16},
	"AFSDB Hostname":        {"host name", domain},
	"ZONEMD Serial":         {"serial", u32},
	"ZONEMD Scheme":         {"scheme", u8},
	"ZONEMD Hash Algorithm": {"hash algorithm", u8},
	"SVCB priority":         {"priority", u16},
	"SVCB Target":           {"target", domain},
	"* KeyTag":              {"key tag", u16},
	"* Algorithm":           {"algorithm", u8},
	"* DigestType":          {"digest type", u8},
	"* Flags":               {"flags", u16},
	"* Protocol":            {"protocol", u8},
}

// badFieldRE takes apart "bad TYPE Field".
var badFieldRE = regexp.MustCompile(`^bad ([A-Z0-9-]+) (.+)$`)

// PlainWords rewords what (the parser's message) about tok (the quoted
// word it stopped at), or returns msg unchanged.
func PlainWords(what, tok, msg string) string {
	m := badFieldRE.FindStringSubmatch(what)
	if m == nil {
		return msg
	}
	typ, field := m[1], m[2]
	w, ok := fieldWords[typ+" "+field]
	if !ok {
		w, ok = fieldWords["* "+field]
	}
	if !ok {
		// A field we have no words for: say at least which it is.
		return "the " + typ + " " + strings.ToLower(field) + " is not valid: found " + tok
	}
	return "the " + typ + " " + w[0] + " must be " + w[1] + "; found " + tok
}
