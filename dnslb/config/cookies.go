package config

import (
	"fmt"
	"strings"

	"github.com/dnslb/dnslb/dnslb/cookie"
)

// CookiesConfig is the [cookies] table: DNS Cookies (RFC 7873) with the
// interoperable server cookie of RFC 9018. The query path's side is
// dnslb/answer's cookie stage and dnslb/cookie.
type CookiesConfig struct {
	// Enabled answers COOKIE options with server cookies (default true,
	// as BIND does): a resolver that sends back its server cookie is
	// known not to be spoofed, and rate limiting lets it through.
	Enabled *bool `toml:"enabled"`
	// Secret is the 128-bit server secret, 32 hex digits; SecretFile a
	// file that holds it (not readable or writable by every user). At
	// most one of them; neither: a random secret per process, which is
	// right for one server alone but not for a fleet behind one address
	// (anycast, a load balancer), whose servers must share the secret.
	Secret     string `toml:"secret"`
	SecretFile string `toml:"secret_file"`
	// PreviousSecret is accepted as well during a rollover (32 hex
	// digits): cookies made with it still verify, and get a new cookie.
	PreviousSecret string `toml:"previous_secret"`

	cur, prev       cookie.Secret // as check read them
	hasCur, hasPrev bool
}

// On reports whether cookies are answered.
func (c CookiesConfig) On() bool { return c.Enabled == nil || *c.Enabled }

// Secrets returns the secrets check read: the current one (ok false when
// none is configured) and the previous one, or nil.
func (c CookiesConfig) Secrets() (cur cookie.Secret, prev *cookie.Secret, ok bool) {
	if c.hasPrev {
		p := c.prev
		prev = &p
	}
	return c.cur, prev, c.hasCur
}

// checkCookies reads and checks the [cookies] secrets.
func (c *Config) checkCookies(path string, data []byte) []string {
	var errs []string
	bad := func(key string, format string, args ...any) {
		k := []string{"cookies", key}
		errs = append(errs, at(path, data, k)+": cookies."+key+": "+fmt.Sprintf(format, args...))
	}
	k := &c.Cookies
	switch {
	case k.Secret != "" && k.SecretFile != "":
		bad("secret_file", "set together with cookies.secret: give one of them")
	case k.Secret != "":
		if s, err := cookie.ParseSecret(k.Secret); err != nil {
			bad("secret", "%v", err)
		} else {
			k.cur, k.hasCur = s, true
		}
	case k.SecretFile != "":
		k.SecretFile = c.Rel(k.SecretFile)
		if s, err := readCookieSecret(k.SecretFile); err != nil {
			bad("secret_file", "%v", err)
		} else {
			k.cur, k.hasCur = s, true
		}
	}
	if k.PreviousSecret != "" {
		if s, err := cookie.ParseSecret(k.PreviousSecret); err != nil {
			bad("previous_secret", "%v", err)
		} else {
			k.prev, k.hasPrev = s, true
		}
		if k.Secret == "" && k.SecretFile == "" {
			bad("previous_secret", "set without cookies.secret or cookies.secret_file: a rollover needs the new secret")
		}
	}
	return errs
}

// readCookieSecret reads a cookie secret file: 32 hex digits alone, in a
// file that not every user may read (as TSIG secrets, readSecret).
func readCookieSecret(path string) (cookie.Secret, error) {
	b, err := readPrivateFile(path)
	if err != nil {
		return cookie.Secret{}, err
	}
	s, err := cookie.ParseSecret(strings.TrimSpace(string(b)))
	if err != nil {
		return cookie.Secret{}, fmt.Errorf("%s: %v", path, err)
	}
	return s, nil
}
