package healthcheck

import (
	"crypto/x509"
	"fmt"
	"math"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Check types accepted in Config.Type.
const (
	TypeTCP   = "tcp"
	TypeHTTP  = "http"
	TypeHTTPS = "https"
	TypeICMP  = "icmp"
	TypeDNS   = "dns"
	// TypeLoad is an http or https GET whose body reports the backend's
	// load (see parseReport); it is a health check too.
	TypeLoad = "load"
)

// Defaults and limits for the timing fields of Config.
const (
	DefaultInterval  = 10 * time.Second
	DefaultTimeout   = 3 * time.Second
	DefaultRise      = 2
	DefaultFall      = 3
	DefaultBodyLimit = 64 // KiB

	MinInterval  = time.Second
	MaxThreshold = 10   // upper bound of rise and fall
	MaxBodyLimit = 1024 // KiB
)

// Config describes one named health check. It is decoded from the
// [healthcheck.<name>] tables of the dnslb config file; this package does not
// import the TOML library, the tags only name the keys.
//
// Interval, Timeout, Rise, Fall and BodyLimit have defaults (10s, 3s, 2, 3,
// 64 KiB) that DefaultConfig fills in. Decode into DefaultConfig() so that
// keys left out keep their defaults while an explicit zero is reported by
// Validate. The other fields default when empty: Port to 80 (http), 443
// (https) or 53 (dns), Method to GET, Path to "/", ExpectStatus to
// "200-299", QueryType to A, ExpectRcode to NOERROR, Transport to udp.
type Config struct {
	// Type is one of tcp, http, https, icmp, dns, load.
	Type string `toml:"type"`
	// Port is added to each address of the name to form the target.
	// Required for tcp unless Target is set.
	Port int `toml:"port"`
	// Target, when set, replaces the address-derived target: "host:port"
	// for tcp and dns, a URL or "host:port" for http and https, an IP
	// address for icmp.
	Target string `toml:"target"`

	// HTTP and HTTPS.
	Path               string            `toml:"path"`
	Host               string            `toml:"host"` // Host header, and SNI for https
	Method             string            `toml:"method"`
	ExpectStatus       []string          `toml:"expect_status"` // "200", "200-299"
	ExpectBody         string            `toml:"expect_body"`
	ExpectBodyRegex    string            `toml:"expect_body_regex"`
	BodyLimit          int               `toml:"body_limit"` // KiB of body searched
	Headers            map[string]string `toml:"headers"`
	FollowRedirects    bool              `toml:"follow_redirects"`
	InsecureSkipVerify bool              `toml:"insecure_skip_verify"`
	SNI                string            `toml:"sni"`
	// RootCAs, when set, replaces the system roots for https. It cannot be
	// set from the config file; tests and embedders use it.
	RootCAs *x509.CertPool `toml:"-" json:"-"`

	// TCP: an optional string to send and a substring expected in the reply.
	Send   string `toml:"send"`
	Expect string `toml:"expect"`

	// Load: Scheme is http (default) or https; Capacity is what
	// {"connections": n} and {"load": x} are divided by (default 1 for
	// load, required for connections); HalfLife is the half-life of the
	// smoothing of the reports and of the round-trip time (default one
	// interval, for every check type).
	Scheme   string        `toml:"scheme"`
	Capacity float64       `toml:"capacity"`
	HalfLife time.Duration `toml:"half_life"`

	// DNS.
	QueryName   string `toml:"query_name"`
	QueryType   string `toml:"query_type"`
	ExpectRcode string `toml:"expect_rcode"`
	Transport   string `toml:"transport"` // udp or tcp

	Interval time.Duration `toml:"interval"`
	Timeout  time.Duration `toml:"timeout"`
	Rise     int           `toml:"rise"` // consecutive successes to become up
	Fall     int           `toml:"fall"` // consecutive failures to become down
}

// DefaultConfig returns a Config with the documented defaults for
// interval, timeout, rise, fall and body_limit.
func DefaultConfig() Config {
	return Config{
		Interval:  DefaultInterval,
		Timeout:   DefaultTimeout,
		Rise:      DefaultRise,
		Fall:      DefaultFall,
		BodyLimit: DefaultBodyLimit,
	}
}

var typeNames = "tcp, http, https, icmp, dns, load"

// usedBy lists, for options that only make sense for some types, the types
// that use them, so that Validate can point out a misplaced key.
var usedBy = map[string]string{
	"path": "http https load", "host": "http https load", "method": "http https",
	"expect_status": "http https load", "expect_body": "http https",
	"expect_body_regex": "http https", "headers": "http https load",
	"follow_redirects": "http https load", "insecure_skip_verify": "https load",
	"sni": "https load", "send": "tcp", "expect": "tcp", "query_name": "dns",
	"query_type": "dns", "expect_rcode": "dns", "transport": "dns",
	"port": "tcp http https dns load", "scheme": "load", "capacity": "load",
}

// setKeys returns the keys of the type-specific options that are set.
func (c Config) setKeys() []string {
	var keys []string
	add := func(set bool, key string) {
		if set {
			keys = append(keys, key)
		}
	}
	add(c.Path != "", "path")
	add(c.Host != "", "host")
	add(c.Method != "", "method")
	add(len(c.ExpectStatus) > 0, "expect_status")
	add(c.ExpectBody != "", "expect_body")
	add(c.ExpectBodyRegex != "", "expect_body_regex")
	add(len(c.Headers) > 0, "headers")
	add(c.FollowRedirects, "follow_redirects")
	add(c.InsecureSkipVerify, "insecure_skip_verify")
	add(c.SNI != "", "sni")
	add(c.Send != "", "send")
	add(c.Expect != "", "expect")
	add(c.QueryName != "", "query_name")
	add(c.QueryType != "", "query_type")
	add(c.ExpectRcode != "", "expect_rcode")
	add(c.Transport != "", "transport")
	add(c.Port != 0, "port")
	add(c.Scheme != "", "scheme")
	add(c.Capacity != 0, "capacity")
	return keys
}

// Validate reports every problem with c. Each message names the key and
// what is allowed, without the file or check name, which the caller adds:
//
//	interval "0s" is below the 1s minimum
func (c Config) Validate() []error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(format, args...))
	}
	known := true
	switch c.Type {
	case TypeTCP, TypeHTTP, TypeHTTPS, TypeICMP, TypeDNS, TypeLoad:
	default:
		bad("type %q is not one of %s", c.Type, typeNames)
		known = false // the checks of keys by type are skipped
	}
	if c.Interval < MinInterval {
		bad("interval %q is below the %v minimum", c.Interval.String(), MinInterval)
	}
	if c.Timeout <= 0 {
		bad("timeout %q must be positive", c.Timeout.String())
	} else if c.Timeout >= c.Interval && c.Interval >= MinInterval {
		bad("timeout %v must be shorter than interval %v", c.Timeout, c.Interval)
	}
	if c.Rise < 1 || c.Rise > MaxThreshold {
		bad("rise %d out of range 1..%d", c.Rise, MaxThreshold)
	}
	if c.Fall < 1 || c.Fall > MaxThreshold {
		bad("fall %d out of range 1..%d", c.Fall, MaxThreshold)
	}
	for _, key := range c.setKeys() {
		if known && !strings.Contains(" "+usedBy[key]+" ", " "+c.Type+" ") {
			bad("%s is not used by type %s", key, c.Type)
		}
	}
	if c.HalfLife < 0 {
		bad("half_life %q is negative", c.HalfLife.String())
	}
	if c.Port < 0 || c.Port > 65535 {
		bad("port %d out of range 1..65535", c.Port)
	}
	switch c.Type {
	case TypeTCP:
		if c.Port == 0 && c.Target == "" {
			bad("port is required for type tcp (or set target)")
		}
		errs = append(errs, validateHostPort(c.Target)...)
	case TypeHTTP, TypeHTTPS:
		errs = append(errs, c.validateHTTP()...)
	case TypeLoad:
		if c.Scheme != "" && c.Scheme != TypeHTTP && c.Scheme != TypeHTTPS {
			bad("scheme %q is not one of http, https", c.Scheme)
		}
		if math.IsNaN(c.Capacity) || c.Capacity < 0 || math.IsInf(c.Capacity, 0) {
			bad("capacity %v must be a positive number", c.Capacity)
		}
		errs = append(errs, c.validateHTTP()...)
	case TypeICMP:
		if _, err := netip.ParseAddr(c.Target); c.Target != "" && err != nil {
			bad("target %q is not an IP address", c.Target)
		}
	case TypeDNS:
		errs = append(errs, c.validateDNS()...)
	}
	return errs
}

func validateHostPort(target string) []error {
	if target == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(target); err != nil {
		return []error{fmt.Errorf("target %q is not host:port", target)}
	}
	return nil
}

func (c Config) validateHTTP() []error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(format, args...))
	}
	if c.BodyLimit < 1 || c.BodyLimit > MaxBodyLimit {
		bad("body_limit %d out of range 1..%d (KiB)", c.BodyLimit, MaxBodyLimit)
	}
	if c.Target != "" && strings.Contains(c.Target, "://") {
		u, err := url.Parse(c.Target)
		if err != nil || (u.Scheme != TypeHTTP && u.Scheme != TypeHTTPS) || u.Host == "" {
			bad("target %q is not an http or https URL", c.Target)
		}
		if c.Path != "" {
			bad("path cannot be combined with a URL target; put the path in the URL")
		}
	} else {
		errs = append(errs, validateHostPort(c.Target)...)
	}
	if c.Path != "" && !strings.HasPrefix(c.Path, "/") {
		bad("path %q must start with /", c.Path)
	}
	switch c.Method {
	case "", "GET":
	case "HEAD":
		if c.ExpectBody != "" || c.ExpectBodyRegex != "" {
			bad("expect_body needs method GET, not HEAD")
		}
	default:
		bad("method %q is not one of GET, HEAD", c.Method)
	}
	for _, s := range c.ExpectStatus {
		if _, err := parseStatusRange(s); err != nil {
			bad("expect_status %q is not a status code or range like \"200\" or \"200-299\"", s)
		}
	}
	if c.ExpectBody != "" && c.ExpectBodyRegex != "" {
		bad("expect_body and expect_body_regex are exclusive")
	}
	if c.ExpectBodyRegex != "" {
		if _, err := regexp.Compile(c.ExpectBodyRegex); err != nil {
			bad("expect_body_regex %q: %v", c.ExpectBodyRegex, err)
		}
	}
	for k := range c.Headers {
		if k == "" || strings.ContainsAny(k, " :\r\n") {
			bad("headers: %q is not a header name", k)
		}
	}
	return errs
}

func (c Config) validateDNS() []error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(format, args...))
	}
	if c.QueryName == "" {
		bad("query_name is required for type dns")
	} else if _, ok := dns.IsDomainName(c.QueryName); !ok {
		bad("query_name %q is not a domain name", c.QueryName)
	}
	if _, ok := dns.StringToType[strings.ToUpper(c.QueryType)]; c.QueryType != "" && !ok {
		bad("query_type %q is not a DNS type", c.QueryType)
	}
	if _, ok := dns.StringToRcode[strings.ToUpper(c.ExpectRcode)]; c.ExpectRcode != "" && !ok {
		bad("expect_rcode %q is not a DNS rcode", c.ExpectRcode)
	}
	if c.Transport != "" && c.Transport != "udp" && c.Transport != "tcp" {
		bad("transport %q is not one of udp, tcp", c.Transport)
	}
	return append(errs, validateHostPort(c.Target)...)
}

// statusRange is an inclusive range of HTTP status codes.
type statusRange struct{ lo, hi int }

func parseStatusRange(s string) (statusRange, error) {
	lo, hi, isRange := strings.Cut(s, "-")
	l, err := strconv.Atoi(lo)
	if err != nil || l < 100 || l > 599 {
		return statusRange{}, fmt.Errorf("bad status %q", s)
	}
	if !isRange {
		return statusRange{l, l}, nil
	}
	h, err := strconv.Atoi(hi)
	if err != nil || h < l || h > 599 {
		return statusRange{}, fmt.Errorf("bad status range %q", s)
	}
	return statusRange{l, h}, nil
}
