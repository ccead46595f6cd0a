// Package wire reads and patches DNS messages in wire form, without
// unpacking them into miekg/dns values: the query path's parse stage
// (Query, the memo's reading of one datagram; UnpackQuery, the full
// path's unpacking that reuses its arrays and refuses lying header
// counts) and the edits the memo and the stages make to a finished reply
// (AppendOption, Slip, RestoreCase, the rotation of an answer section,
// the templates of negative replies).
//
// It knows the message format (RFC 1035 section 4, EDNS in RFC 6891,
// ECS in RFC 7871, the COOKIE option's lengths in RFC 7873) and nothing
// of zones, policies or the memo's tables: package answer decides what
// to write and when, and keeps its caches.
package wire
