package config

import (
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/dnslb/dnslb/healthcheck"
)

// Config is the whole configuration file. The zero values of its fields
// are the documented defaults, filled in by Defaults.
type Config struct {
	// ZoneDir, if set, is a folder whose *.zone files are zones, each named
	// by its file name without ".zone".
	ZoneDir string       `toml:"zone_dir"`
	Zones   []ZoneConfig `toml:"zone"`
	Server  ServerConfig `toml:"server"`
	Log     LogConfig    `toml:"log"`
	Admin   AdminConfig  `toml:"admin"`
	GeoIP   GeoIPConfig  `toml:"geoip"`
	Health  HealthConfig `toml:"health"`
	// Transfer lets secondaries copy the zones (AXFR, IXFR) and tells them
	// when a zone changes (NOTIFY).
	Transfer TransferConfig `toml:"transfer"`
	// TSIG holds the shared keys that sign transfers and NOTIFY (dnslb/transfer).
	TSIG TSIGConfig `toml:"tsig"`
	// Cookies answers DNS Cookies (cookies.go).
	Cookies CookiesConfig `toml:"cookies"`
	// RRL is response rate limiting (rrl.go).
	RRL RRLConfig `toml:"rrl"`
	// Cluster makes this server one node of a fleet sharing health
	// (cluster.go); absent, it works alone.
	Cluster *ClusterConfig `toml:"cluster"`
	// DNSSEC signs zones online (dnssec.go); off without keys.
	DNSSEC DNSSECConfig `toml:"dnssec"`
	// Names holds the policy of each load-balanced owner name,
	// [name."www.example.org"], keyed by the name as written.
	Names map[string]NameConfig `toml:"name"`
	// Checks are the named health checks, [healthcheck.<name>], each
	// decoded over healthcheck.DefaultConfig().
	Checks map[string]healthcheck.Config `toml:"-"`
	// RawChecks is what the file says under [healthcheck]; Load
	// decodes it into Checks.
	RawChecks map[string]toml.Primitive `toml:"healthcheck"`

	// path is the file the config came from; relative paths are relative
	// to its folder. data is its text, for finding the line of a key.
	path string
	data []byte
	// undecoded holds the keys (normKey of quotedKey) whose values did
	// not decode: the checks of what they hold would only repeat that.
	undecoded map[string]bool
}

// ZoneConfig names one zone and its master file.
type ZoneConfig struct {
	Name string `toml:"name"`
	File string `toml:"file"`
}

// ServerConfig is the DNS listener setup.
type ServerConfig struct {
	// Listen is where to answer, UDP and TCP on each (default 127.0.0.1:5353).
	Listen []string `toml:"listen"`
	// Rotate orders multi-record RRsets: "round-robin" (default) or "random".
	Rotate string `toml:"rotate"`
	// TCPIdleTimeout closes idle TCP connections (default 10s, RFC 7766).
	TCPIdleTimeout Duration `toml:"tcp_idle_timeout"`
	// MaxTCPConnections bounds open TCP connections (default 1000).
	MaxTCPConnections int `toml:"max_tcp_connections"`
	// MaxTCPPerClient bounds the TCP connections of one client address
	// (default 100; -1: no bound).
	MaxTCPPerClient int `toml:"max_tcp_per_client"`
	// TCPFirstByteTimeout closes a new TCP connection that sends nothing
	// (default 2s); TCPMessageTimeout one that takes longer to send a
	// whole query once its first byte came (default 2s, not reset per byte).
	TCPFirstByteTimeout Duration `toml:"tcp_first_byte_timeout"`
	TCPMessageTimeout   Duration `toml:"tcp_message_timeout"`
	// UDPSize is the EDNS buffer size we advertise (default 1232,
	// DefaultUDPSize).
	UDPSize int `toml:"udp_size"`
	// WatchInterval is how often the config and zone files are checked
	// for changes, which trigger a reload (default 1s; "-1s" turns it off).
	WatchInterval Duration `toml:"watch_interval"`

	// NSID is the name server identifier (RFC 5001) sent to queries that
	// ask for it: "" (default) sends none, "hostname" the host name,
	// "0x…" the bytes in hex, anything else the string itself.
	NSID string `toml:"nsid"`
	// Identity answers TXT queries in class CH for id.server and
	// hostname.bind (default: the host name), Version those for
	// version.server and version.bind (default "dnslb VERSION"), as NSD
	// and Knot answer them. HideIdentity and HideVersion refuse them.
	Identity     string `toml:"identity"`
	Version      string `toml:"version"`
	HideIdentity bool   `toml:"hide_identity"`
	HideVersion  bool   `toml:"hide_version"`
}

// NSIDBytes is what server.nsid sends (nil: none), with the host name
// from hostname for "hostname".
func (s ServerConfig) NSIDBytes(hostname string) ([]byte, error) {
	switch v := s.NSID; {
	case v == "":
		return nil, nil
	case v == "hostname":
		return []byte(hostname), nil
	case strings.HasPrefix(v, "0x") || strings.HasPrefix(v, "0X"):
		b, err := hex.DecodeString(v[2:])
		if err != nil || len(b) == 0 {
			return nil, fmt.Errorf("%q is not hex bytes after 0x", v)
		}
		return b, nil
	default:
		return []byte(v), nil
	}
}

// LogConfig chooses the log level and format.
type LogConfig struct {
	Level  string `toml:"level"`  // debug, info (default), warn, error
	Format string `toml:"format"` // text (default) or json
	// QueryLog, if set, is a file that gets a line for a sample of the
	// queries; QuerySample is the fraction logged (default 0.01).
	QueryLog    string  `toml:"query_log"`
	QuerySample float64 `toml:"query_sample"`
}

// TransferConfig is the [transfer] table.
type TransferConfig struct {
	// Allow lists the clients (addresses or prefixes) that may transfer
	// every zone over TCP. Empty, and Keys empty: nobody (AXFR and IXFR
	// get NOTAUTH).
	Allow []string `toml:"allow"`
	// Notify lists the secondaries (address:port) sent a NOTIFY when a
	// zone is loaded with a new serial.
	Notify []string `toml:"notify"`
	// Keys, if set, are the TSIG keys ([tsig.keys]) a transfer must be
	// signed with, one of them; with Allow too, both must hold.
	Keys []string `toml:"keys"`
	// NotifyKey, if set, is the TSIG key that signs every NOTIFY.
	NotifyKey string `toml:"notify_key"`
}

// AdminConfig is the admin HTTP listener.
type AdminConfig struct {
	Listen string `toml:"listen"` // empty: no admin listener
	Token  string `toml:"token"`  // required when Listen is not loopback
	// MetricsListen, if set, serves /metrics alone there, read-only and
	// without the token, so Prometheus can scrape without the token that
	// allows drains and reloads.
	MetricsListen string `toml:"metrics_listen"`
	// StatusInterval is how often the status page's history is sampled
	// (default 5s); each series keeps the last HistorySamples samples.
	StatusInterval Duration `toml:"status_interval"`
}

// HistorySamples is how many samples each series of the status page's
// history keeps: an hour at the default status_interval.
const HistorySamples = 720

// HealthConfig is the [health] table: how the prober runs.
type HealthConfig struct {
	// StartupGrace bounds how long startup waits for the first probe of
	// every target before answering (default 5s).
	StartupGrace Duration `toml:"startup_grace"`
	// MaxConcurrent bounds probes in flight at once (default 256).
	MaxConcurrent int `toml:"max_concurrent"`
	// StateFile, if set, keeps operator overrides (drain, up, down) across
	// restarts.
	StateFile string `toml:"state_file"`
	// FeedTTL is how long a value pushed to POST /api/feed holds unless
	// pushed again (default 60s).
	FeedTTL Duration `toml:"feed_ttl"`
}

// Duration is a time.Duration written as a Go duration string ("10s").
type Duration struct{ time.Duration }

// UnmarshalText reads "10s".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration like \"10s\"", b)
	}
	d.Duration = v
	return nil
}

// MarshalText writes d as "10s".
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Defaults returns c with every unset field at its documented default.
func (c Config) Defaults() Config {
	if len(c.Server.Listen) == 0 {
		c.Server.Listen = []string{"127.0.0.1:5353"}
	}
	if c.Server.Rotate == "" {
		c.Server.Rotate = "round-robin"
	}
	if c.Server.TCPIdleTimeout.Duration == 0 {
		c.Server.TCPIdleTimeout.Duration = 10 * time.Second
	}
	if c.Server.MaxTCPConnections == 0 {
		c.Server.MaxTCPConnections = 1000
	}
	if c.Server.MaxTCPPerClient == 0 {
		c.Server.MaxTCPPerClient = 100
	}
	if c.Server.TCPFirstByteTimeout.Duration == 0 {
		c.Server.TCPFirstByteTimeout.Duration = 2 * time.Second
	}
	if c.Server.TCPMessageTimeout.Duration == 0 {
		c.Server.TCPMessageTimeout.Duration = 2 * time.Second
	}
	if c.Server.WatchInterval.Duration == 0 {
		c.Server.WatchInterval.Duration = time.Second
	}
	if c.Admin.StatusInterval.Duration == 0 {
		c.Admin.StatusInterval.Duration = 5 * time.Second
	}
	if c.Server.UDPSize == 0 {
		c.Server.UDPSize = DefaultUDPSize
	}
	if c.Health.StartupGrace.Duration == 0 {
		c.Health.StartupGrace.Duration = 5 * time.Second
	}
	if c.Health.MaxConcurrent == 0 {
		c.Health.MaxConcurrent = healthcheck.DefaultMaxConcurrent
	}
	if c.Health.FeedTTL.Duration == 0 {
		c.Health.FeedTTL.Duration = 60 * time.Second
	}
	if c.GeoIP.Poll.Duration == 0 {
		c.GeoIP.Poll.Duration = 5 * time.Second
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.QuerySample == 0 {
		c.Log.QuerySample = 0.01
	}
	if c.Log.Format == "" {
		c.Log.Format = "text"
	}
	c.RRL = c.RRL.defaults()
	if c.Cluster != nil {
		cl := c.Cluster.defaults()
		c.Cluster = &cl
	}
	return c
}

// Load reads and checks a config file. Relative paths in it are
// made relative to its folder. The error lists every problem found.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	return Parse(path, data)
}

// Parse is Load on text already read.
func Parse(path string, data []byte) (Config, error) {
	c, errs, err := ParseAll(path, data)
	if err != nil {
		return Config{}, err
	}
	if len(errs) > 0 {
		SortByLine(errs)
		return Config{}, errors.New(JoinErrors(errs))
	}
	return c, nil
}

// ParseAll is Parse that goes on past bad values: it returns the
// config as far as it could be read, with defaults, and every problem in
// it, so that a caller can still load the zones and policies it names and
// report their errors too. err is a syntax error: nothing could be read.
func ParseAll(path string, data []byte) (c Config, errs []string, err error) {
	var top map[string]toml.Primitive
	md, err := toml.Decode(string(data), &top)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			line := pe.Position.Line
			if strings.Contains(pe.Message, `got '\n'`) && line > 1 {
				line-- // the line that ended too soon, not the next one
			}
			return Config{}, nil, fmt.Errorf("%s:%d: %s", path, line, plainSyntax(pe.Message, data, line))
		}
		return Config{}, nil, fmt.Errorf("%s: %w", path, err)
	}
	bad := map[string]bool{}
	// A name written without quotes is one error, not one per table TOML
	// made of its labels (words.go).
	unquoted, unquotedAt := unquotedNames(data)
	for _, n := range unquoted {
		errs = append(errs, fmt.Sprintf("%s:%d: name.%s: a name with dots must be in quotes: [name.%q]", path, unquotedAt[n], n, n))
	}
	report := func(key []string, err error) {
		for _, n := range unquoted {
			if len(key) > 1 && key[0] == "name" && strings.HasPrefix(n, key[1]+".") {
				return
			}
		}
		errs = append(errs, decodeError(path, data, key, err))
		bad[normKey(quotedKey(key))] = true
	}
	decodeTable(md, top, reflect.ValueOf(&c).Elem(), nil, report)
	c.Checks = make(map[string]healthcheck.Config, len(c.RawChecks))
	for name, prim := range c.RawChecks {
		hc := healthcheck.DefaultConfig()
		decodeEach(md, prim, reflect.ValueOf(&hc).Elem(), []string{"healthcheck", name}, report)
		c.Checks[name] = hc
	}
	for _, n := range unquoted {
		delete(c.Names, strings.Split(n, ".")[0])
	}
undecoded:
	for _, k := range md.Undecoded() {
		for i := 1; i <= len(k); i++ {
			if bad[normKey(quotedKey(k[:i]))] {
				continue undecoded // below a key reported already
			}
		}
		if len(k) > 1 && k[0] == "name" && slices.ContainsFunc(unquoted, func(n string) bool { return strings.HasPrefix(n, k[1]+".") }) {
			continue
		}
		errs = append(errs, fmt.Sprintf("%s: unknown key %s", at(path, data, k), k))
	}
	c.path, c.data, c.undecoded = path, data, bad
	c = c.Defaults()
	errs = append(errs, c.check(path, data)...)
	return c, errs, nil
}

// decodeEach decodes prim into v key by key, so that one value of the
// wrong type does not hide the errors after it (the toml library stops at
// the first): a struct, or a map or list of them, is walked table by
// table; anything else is decoded whole, and a failure reported with
// its key. Keys v has no field for are left undecoded (unknown keys).
func decodeEach(md toml.MetaData, prim toml.Primitive, v reflect.Value, key []string, report func([]string, error)) (ok bool) {
	t := v.Type()
	switch {
	case t == reflect.TypeFor[toml.Primitive]():
		v.Set(reflect.ValueOf(prim))
		return true
	case reflect.PointerTo(t).Implements(reflect.TypeFor[encoding.TextUnmarshaler]()):
	case t.Kind() == reflect.Struct:
		tbl, ok := table(md, prim, key, report)
		if !ok {
			return false
		}
		return decodeTable(md, tbl, v, key, report)
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String:
		tbl, ok := table(md, prim, key, report)
		if !ok {
			return false
		}
		if v.IsNil() {
			v.Set(reflect.MakeMapWithSize(t, len(tbl)))
		}
		ok = true
		for _, k := range slices.Sorted(maps.Keys(tbl)) {
			e := reflect.New(t.Elem()).Elem()
			if t.Elem().Kind() == reflect.Struct {
				if err := isTable(md, tbl[k]); err != nil {
					report(append(slices.Clip(key), k), err) // left out: no second error
					ok = false
					continue
				}
			}
			good := decodeEach(md, tbl[k], e, append(slices.Clip(key), k), report)
			// A value that did not decode is left out, so that its
			// zero value raises no second error; a table is kept with
			// the keys that did.
			if good || t.Elem().Kind() == reflect.Struct {
				v.SetMapIndex(reflect.ValueOf(k).Convert(t.Key()), e)
			}
			ok = ok && good
		}
		return ok
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		var list []toml.Primitive
		if err := md.PrimitiveDecode(prim, &list); err != nil {
			report(key, plainTypeError(md, prim, t, err))
			return false
		}
		v.Set(reflect.MakeSlice(t, len(list), len(list)))
		ok = true
		for i, p := range list {
			// The element's key carries its index, which atPath finds
			// among the [[…]] tables: zone[1].name.
			ek := append(slices.Clip(key[:len(key)-1]), fmt.Sprintf("%s[%d]", key[len(key)-1], i))
			ok = decodeEach(md, p, v.Index(i), ek, report) && ok
		}
		return ok
	}
	if err := durationAsNumber(md, prim, t); err != nil {
		report(key, err)
		return false
	}
	if err := md.PrimitiveDecode(prim, v.Addr().Interface()); err != nil {
		report(key, plainTypeError(md, prim, t, err))
		if t.Kind() == reflect.Slice {
			v.SetZero() // decoded in part: raise no second error
		}
		return false
	}
	return true
}

// table decodes prim, which must be a table, into its keys. (The toml
// library decodes a number or a string into a map without complaint.)
func table(md toml.MetaData, prim toml.Primitive, key []string, report func([]string, error)) (map[string]toml.Primitive, bool) {
	if err := isTable(md, prim); err != nil {
		report(key, err)
		return nil, false
	}
	var tbl map[string]toml.Primitive
	if err := md.PrimitiveDecode(prim, &tbl); err != nil {
		report(key, err)
		return nil, false
	}
	return tbl, true
}

// isTable returns an error unless prim holds a table.
func isTable(md toml.MetaData, prim toml.Primitive) error {
	var v any
	if err := md.PrimitiveDecode(prim, &v); err != nil {
		return err
	}
	if _, ok := v.(map[string]any); !ok {
		return &typeError{want: "a table", found: foundOf(v), orig: fmt.Errorf("want a table, found %s", tomlTypeName(v))}
	}
	return nil
}

// tomlTypeName names the TOML type of a value decoded into any.
func tomlTypeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	}
	return fmt.Sprintf("%T", v)
}

// decodeTable decodes the keys of tbl into the fields of the struct v
// that have their names as toml tags.
func decodeTable(md toml.MetaData, tbl map[string]toml.Primitive, v reflect.Value, key []string, report func([]string, error)) (ok bool) {
	t := v.Type()
	ok = true
	var fields []string // the keys t has, for suggesting one
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("toml"), ","); name != "" && name != "-" && t.Field(i).IsExported() {
			fields = append(fields, name)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(tbl)) {
		known := false
		for i := range t.NumField() {
			if name, _, _ := strings.Cut(t.Field(i).Tag.Get("toml"), ","); name == k && t.Field(i).IsExported() {
				ok = decodeEach(md, tbl[k], v.Field(i), append(slices.Clip(key), k), report) && ok
				known = true
				break
			}
		}
		if !known {
			report(append(slices.Clip(key), k), &unknownKeyError{options: fields})
			ok = false
		}
	}
	return ok
}

// tomlError is the toml library's "toml: line N (last key "k"): message".
var tomlError = regexp.MustCompile(`^toml: line (\d+) \(last key "(.*?)"\): (.*)$`)

// decodeError formats a value the toml library could not decode as
// "path:line: key: what is wrong".
func decodeError(path string, data []byte, key []string, err error) string {
	// The toml library's line is good but for keys in an array of
	// tables, where it gives the line of the last key it read.
	indexed := strings.Contains(strings.Join(key, ""), "[")
	m := tomlError.FindStringSubmatch(err.Error())
	if te := (*typeError)(nil); m != nil && !indexed && errors.As(err, &te) {
		return fmt.Sprintf("%s:%s: %s must be %s; found %s", path, m[1], quotedKey(key), te.want, te.found)
	}
	if m != nil && !indexed {
		return fmt.Sprintf("%s:%s: %s: %s", path, m[1], strings.ReplaceAll(m[2], `\"`, `"`), m[3])
	}
	where := at(path, data, key)
	if where == path || indexed {
		// In an inline table, an array or an array of tables: the
		// nearest line that sets the key or one above it.
		where = atPath(path, data, quotedKey(key))
	}
	var uk *unknownKeyError
	var te *typeError
	switch {
	case errors.As(err, &uk):
		if where == path {
			where = firstUnder(path, data, quotedKey(key))
		}
		return fmt.Sprintf("%s: unknown key %s%s", where, quotedKey(key), Suggest(key[len(key)-1], uk.options))
	case errors.As(err, &te):
		return fmt.Sprintf("%s: %s must be %s; found %s", where, quotedKey(key), te.want, te.found)
	case m != nil:
		return fmt.Sprintf("%s: %s: %s", where, quotedKey(key), m[3])
	}
	return fmt.Sprintf("%s: %s: %v", where, quotedKey(key), err)
}

// quotedKey writes key as a dotted TOML key, quoting the parts with dots.
func quotedKey(key []string) string {
	parts := make([]string, len(key))
	for i, k := range key {
		parts[i] = k
		if strings.ContainsAny(k, ".\" ") {
			parts[i] = strconv.Quote(k)
		}
	}
	return strings.Join(parts, ".")
}

// SortByLine orders "path:line: msg" errors by line; errors without a line
// keep their order, after the others.
func SortByLine(errs []string) {
	line := func(e string) int {
		_, rest, ok := strings.Cut(e, ":")
		if !ok {
			return 1 << 30
		}
		n, err := strconv.Atoi(rest[:strings.IndexFunc(rest+":", func(r rune) bool { return r < '0' || r > '9' })])
		if err != nil {
			return 1 << 30
		}
		return n
	}
	slices.SortStableFunc(errs, func(a, b string) int { return line(a) - line(b) })
}

// check validates values, naming each key (with its line where known).
func (c *Config) check(path string, data []byte) []string {
	var errs []string
	bad := func(key []string, format string, args ...any) {
		errs = append(errs, at(path, data, key)+": "+strings.Join(key, ".")+": "+fmt.Sprintf(format, args...))
	}
	for i, l := range c.Server.Listen {
		if _, err := netip.ParseAddrPort(l); err != nil {
			bad([]string{"server", "listen"}, "%q (entry %d) is not an address:port like \"127.0.0.1:53\" or \"[::1]:53\"", l, i+1)
		}
	}
	switch c.Server.Rotate {
	case "round-robin", "random":
	default:
		bad([]string{"server", "rotate"}, "%s", OneOf(c.Server.Rotate, []string{"round-robin", "random"}))
	}
	if b, err := c.Server.NSIDBytes("hostname"); err != nil {
		bad([]string{"server", "nsid"}, "%v", err)
	} else if len(b) > 128 {
		bad([]string{"server", "nsid"}, "%d bytes, more than 128", len(b))
	}
	for _, k := range []struct{ key, v string }{{"identity", c.Server.Identity}, {"version", c.Server.Version}} {
		if len(k.v) > 255 {
			bad([]string{"server", k.key}, "%d bytes, more than the 255 of a TXT string", len(k.v))
		}
	}
	if c.Server.UDPSize < 512 || c.Server.UDPSize > 4096 {
		bad([]string{"server", "udp_size"}, "%d out of range 512..4096", c.Server.UDPSize)
	}
	if c.Server.MaxTCPConnections < 1 {
		bad([]string{"server", "max_tcp_connections"}, "%d must be at least 1", c.Server.MaxTCPConnections)
	}
	if c.Server.MaxTCPPerClient < -1 {
		bad([]string{"server", "max_tcp_per_client"}, "%d must be at least 1 (or -1: no bound)", c.Server.MaxTCPPerClient)
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		bad([]string{"log", "level"}, "%s", OneOf(c.Log.Level, []string{"debug", "info", "warn", "error"}))
	}
	if c.Log.QuerySample < 0 || c.Log.QuerySample > 1 {
		bad([]string{"log", "query_sample"}, "%g out of range 0..1", c.Log.QuerySample)
	}
	c.Log.QueryLog = c.Rel(c.Log.QueryLog)
	if c.Log.QueryLog != "" {
		if fi, err := os.Stat(filepath.Dir(c.Log.QueryLog)); err != nil || !fi.IsDir() {
			bad([]string{"log", "query_log"}, "folder %s of %s does not exist", filepath.Dir(c.Log.QueryLog), c.Log.QueryLog)
		}
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		bad([]string{"log", "format"}, "%s", OneOf(c.Log.Format, []string{"text", "json"}))
	}
	if c.Admin.Listen != "" {
		ap, err := netip.ParseAddrPort(c.Admin.Listen)
		switch {
		case err != nil:
			bad([]string{"admin", "listen"}, "%q is not an address:port", c.Admin.Listen)
		case !ap.Addr().IsLoopback() && c.Admin.Token == "":
			errs = append(errs, fmt.Sprintf("%s: admin.token: a token is required when admin.listen %s is not a loopback address",
				at(path, data, []string{"admin", "listen"}), c.Admin.Listen))
		}
	}
	if d := c.Admin.StatusInterval.Duration; d < 100*time.Millisecond || d > time.Minute {
		bad([]string{"admin", "status_interval"}, "%s out of range 100ms..1m", d)
	}
	if c.Admin.MetricsListen != "" {
		if _, err := netip.ParseAddrPort(c.Admin.MetricsListen); err != nil {
			bad([]string{"admin", "metrics_listen"}, "%q is not an address:port like \"127.0.0.1:9153\"", c.Admin.MetricsListen)
		} else if c.Admin.MetricsListen == c.Admin.Listen {
			bad([]string{"admin", "metrics_listen"}, "%s is admin.listen too: give the metrics listener an address or port of its own", c.Admin.MetricsListen)
		}
	}
	for i, a := range c.Transfer.Allow {
		if _, err := ParsePrefix(a); err != nil {
			bad([]string{"transfer", "allow"}, "%q (entry %d) is not an address or prefix like 192.0.2.53 or 2001:db8::/32", a, i+1)
		}
	}
	for i, a := range c.Transfer.Notify {
		if _, err := netip.ParseAddrPort(a); err != nil {
			bad([]string{"transfer", "notify"}, "%q (entry %d) is not an address:port like \"192.0.2.53:53\"", a, i+1)
		}
	}
	errs = append(errs, c.checkTSIG(path, data)...)
	errs = append(errs, c.checkCookies(path, data)...)
	c.checkRRL(bad)
	c.checkCluster(bad)
	errs = append(errs, c.checkDNSSEC(path, data)...)
	for i, z := range c.Zones {
		at := fmt.Sprintf("zone[%d]", i)
		if c.undecoded[at+".name"] || c.undecoded[at+".file"] {
			continue // said already
		}
		if z.Name == "" || z.File == "" {
			errs = append(errs, fmt.Sprintf("%s: zone %d: needs both name and file", atPath(path, data, at), i+1))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(c.Checks)) {
		for _, e := range c.Checks[name].Validate() {
			// Each message starts with the key it is about: its line if
			// the file sets it, else the table's.
			first, _, _ := strings.Cut(e.Error(), " ")
			loc := at(path, data, []string{"healthcheck", name, first})
			if loc == path {
				loc = at(path, data, []string{"healthcheck", name})
			}
			errs = append(errs, fmt.Sprintf("%s: healthcheck %q: %s", loc, name, withSuggestion(e.Error())))
		}
	}
	for _, owner := range slices.Sorted(maps.Keys(c.Names)) {
		nc := c.Names[owner]
		for _, chk := range nc.CheckNames() {
			if _, ok := c.Checks[chk]; !ok {
				key := "check"
				if slices.Contains(nc.Checks, chk) {
					key = "checks"
				}
				errs = append(errs, fmt.Sprintf("%s: name.%q: check %q is not defined in a [healthcheck.%s] table%s",
					atPath(path, data, fmt.Sprintf("name.%q.%s", owner, key)), owner, chk, chk, Suggest(chk, slices.Sorted(maps.Keys(c.Checks)))))
			}
		}
		errs = append(errs, c.loadNeeds(path, data, owner, nc)...)
	}
	for i, f := range c.GeoIP.Files {
		c.GeoIP.Files[i] = c.Rel(f)
	}
	c.Health.StateFile = c.Rel(c.Health.StateFile)
	if f := c.Health.StateFile; f != "" {
		// Found now, not at the first drain: overrides would be lost.
		if fi, err := os.Stat(filepath.Dir(f)); err != nil || !fi.IsDir() {
			bad([]string{"health", "state_file"}, "folder %s of %s does not exist", filepath.Dir(f), f)
		}
	}
	if c.ZoneDir == "" && len(c.Zones) == 0 {
		errs = append(errs, fmt.Sprintf("%s: no zones: set zone_dir or add [[zone]] tables", path))
	}
	return errs
}

// LevelOf is the slog level of log.level (info if it is not one).
func (c LogConfig) LevelOf() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(c.Level))); err != nil {
		return slog.LevelInfo
	}
	return l
}

// ParsePrefix reads an address (a /32 or /128) or a prefix.
func ParsePrefix(s string) (netip.Prefix, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return p, err
	}
	if bits := p.Bits(); p.Addr().Is4In6() {
		if bits < 96 {
			return p, fmt.Errorf("%s: an IPv4-mapped prefix shorter than /96", s)
		}
		return netip.PrefixFrom(p.Addr().Unmap(), bits-96).Masked(), nil
	}
	return p.Masked(), nil
}

// Rel resolves a path from the config file relative to its folder.
func (c *Config) Rel(p string) string {
	if p == "" || filepath.IsAbs(p) || c.path == "" {
		return p
	}
	return filepath.Join(filepath.Dir(c.path), p)
}

// ZoneFiles lists every zone the config names, zone_dir first, sorted.
func (c *Config) ZoneFiles() ([]ZoneConfig, error) {
	var out []ZoneConfig
	if c.ZoneDir != "" {
		dir := c.Rel(c.ZoneDir)
		ents, err := os.ReadDir(dir)
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: zone_dir: folder %s does not exist", c.At("zone_dir"), dir)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: zone_dir: %w", c.At("zone_dir"), err)
		}
		for _, e := range ents {
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".zone") {
				continue
			}
			out = append(out, ZoneConfig{Name: strings.TrimSuffix(e.Name(), ".zone"), File: filepath.Join(dir, e.Name())})
		}
	}
	for _, z := range c.Zones {
		if z.Name == "" || z.File == "" {
			continue // reported by check
		}
		out = append(out, ZoneConfig{Name: z.Name, File: c.Rel(z.File)})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// JoinErrors prints at most maxErrors messages and counts the rest.
func JoinErrors(errs []string) string {
	const maxErrors = 100
	if len(errs) > maxErrors {
		n := len(errs) - maxErrors
		errs = append(errs[:maxErrors:maxErrors], fmt.Sprintf("(and %d more errors)", n))
	}
	return strings.Join(errs, "\n")
}

// at returns "path:line" for the line that sets key (or the table it
// names), or just path. The toml library keeps key positions to itself,
// so this reads the text (keyLines).
func at(path string, data []byte, key []string) string {
	if n, ok := keyLines(data)[normKey(strings.Join(key, "."))]; ok && len(key) > 0 {
		return fmt.Sprintf("%s:%d", path, n)
	}
	return path
}

// atPath is at for a dotted key as the error messages print it, quotes
// and list indexes included (name."www.example.org".rules[1].group): the
// line of the key, else of the nearest key or table above it that the
// file sets, else just path.
func atPath(path string, data []byte, key string) string {
	lines := keyLines(data)
	for k := normKey(key); k != ""; {
		if n, ok := lines[k]; ok {
			return fmt.Sprintf("%s:%d", path, n)
		}
		if strings.HasSuffix(k, "]") {
			k = k[:strings.LastIndex(k, "[")]
		} else {
			k = k[:max(strings.LastIndex(k, "."), 0)]
		}
	}
	return path
}

// keyLines maps every table header and key of a TOML text to its line,
// with quotes dropped: "server" for [server], "server.listen" for listen
// in it, "name.x.rules[1]" for the second [[name."x".rules]] (and, as the
// first one's, "name.x.rules").
func keyLines(data []byte) map[string]int {
	out := map[string]int{}
	add := func(k string, line int) {
		if _, seen := out[k]; !seen {
			out[k] = line
		}
	}
	arrays := map[string]int{}
	cur, plain := "", "" // the table, with its index if in an array, and without
	for i, line := range strings.Split(string(data), "\n") {
		t := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(t, "[["):
			end := strings.Index(t, "]]")
			if end < 0 {
				continue
			}
			plain = normKey(t[2:end])
			cur = fmt.Sprintf("%s[%d]", plain, arrays[plain])
			arrays[plain]++
		case strings.HasPrefix(t, "["):
			end := strings.LastIndex(t, "]")
			if end < 0 {
				continue
			}
			cur = normKey(t[1:end])
			plain = cur
		default:
			k, _, ok := strings.Cut(t, "=")
			if !ok || strings.HasPrefix(t, "#") {
				continue
			}
			k = normKey(k)
			if cur == "" {
				add(k, i+1)
				continue
			}
			add(cur+"."+k, i+1)
			add(plain+"."+k, i+1)
			continue
		}
		add(cur, i+1)
		add(plain, i+1)
	}
	return out
}

// normKey drops quotes and spaces so `name."www.example.org"` and
// name.www.example.org compare equal.
func normKey(k string) string {
	return keyNormalizer.Replace(strings.TrimSpace(k))
}

var keyNormalizer = strings.NewReplacer(`"`, "", "'", "", " ", "", "\t", "")

// DefaultUDPSize is the EDNS buffer size we advertise unless udp_size
// says otherwise (the DNS Flag Day 2020 value).
const DefaultUDPSize = 1232

// Path is the file the config came from ("" if it was built in code).
func (c *Config) Path() string { return c.path }

// At is "path:line" of the line that sets key (or the table it names),
// or just the path.
func (c *Config) At(key ...string) string { return at(c.path, c.data, key) }

// AtPath is At for a dotted key as error messages print it, quotes and
// list indexes included: the line of the key or of the nearest table
// above it that the file sets.
func (c *Config) AtPath(key string) string { return atPath(c.path, c.data, key) }

// Undecoded tells whether the value at the dotted key did not decode (an
// error said so already, so checks of what it holds would only repeat it).
func (c *Config) Undecoded(key string) bool { return c.undecoded[normKey(key)] }

// loadNeeds reports the load-aware keys of a name that have no check to
// read from: watermarks and least-loaded need a check of type load,
// fastest needs a check (any type: its probes are timed).
func (c *Config) loadNeeds(path string, data []byte, owner string, nc NameConfig) []string {
	hasLoad, hasCheck := false, false
	for _, chk := range nc.CheckNames() {
		if hc, ok := c.Checks[chk]; ok {
			hasCheck = true
			hasLoad = hasLoad || hc.Type == healthcheck.TypeLoad
		}
	}
	var errs []string
	need := func(key, what string) {
		errs = append(errs, fmt.Sprintf("%s: name.%q.%s: needs %s", atPath(path, data, fmt.Sprintf("name.%q.%s", owner, key)), owner, key, what))
	}
	if !hasLoad {
		if nc.HighWatermark != nil {
			need("high_watermark", `a check of type "load"`)
		}
		if nc.Pick == "least-loaded" {
			need("pick", `a check of type "load" for "least-loaded"`)
		}
	}
	if !hasCheck && nc.Pick == "fastest" {
		need("pick", `a check for "fastest" (it orders by the probes' round-trip time)`)
	}
	return errs
}
