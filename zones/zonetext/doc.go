// Package zonetext holds the parts of reading a master file that work on
// its text alone, before or beside the zone parser (miekg/dns v1.1.73):
// $GENERATE's range, templates and modifiers as BIND expands them, the
// keyNNNNN form of SVCB/HTTPS parameters the parser refuses for keys it
// knows by name, character-strings longer than 255 bytes, ASCII case
// folding over bytes, comments, and the rewording of the parser's "bad
// TYPE Field" messages.
//
// Each is a workaround or a rewording of the zone parser, kept here until
// it is fixed upstream. None of it knows a zone: package zones calls these
// with the text of one entry and keeps the records, their lines and the
// errors.
package zonetext
