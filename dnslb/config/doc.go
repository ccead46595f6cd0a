// Package config is dnslb's configuration file: its schema (Config and
// the tables under it), decoding with every bad value reported at its
// line, defaults, and the checks that need nothing but the file itself.
//
// It leaves out what needs the zones or the GeoIP data: whether a
// policy's addresses exist in its zone, or a country code is real, is
// checked where the policies are compiled, using At and AtPath for the
// line of a key.
package config
