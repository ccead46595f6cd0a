package config

import (
	"encoding/base64"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// TSIG keys (RFC 8945): [tsig.keys.NAME] names a key, its algorithm and
// the file that holds its secret; check reads the secret. The query
// path's side is dnslb/transfer/tsig.go.

// TSIGConfig is the [tsig] table.
type TSIGConfig struct {
	// Keys are the shared keys, [tsig.keys.NAME], by key name (a domain
	// name, as both sides write it: "xfr.example.org" or "dnslb-xfr").
	Keys map[string]TSIGKeyConfig `toml:"keys"`
}

// TSIGKeyConfig is one [tsig.keys.NAME] table.
type TSIGKeyConfig struct {
	// Algorithm is hmac-sha1, hmac-sha224, hmac-sha256, hmac-sha384 or
	// hmac-sha512.
	Algorithm string `toml:"algorithm"`
	// SecretFile holds the secret, base64 (as tsig-keygen and keymgr
	// print it), alone in the file. It must not be readable or writable
	// by every user.
	SecretFile string `toml:"secret_file"`

	secret string // base64, read by check from SecretFile
}

// tsigAlgorithms are the algorithms a key may have (RFC 8945 section 6;
// HMAC-MD5 is not offered).
var tsigAlgorithms = map[string]string{
	"hmac-sha1": dns.HmacSHA1, "hmac-sha224": dns.HmacSHA224, "hmac-sha256": dns.HmacSHA256,
	"hmac-sha384": dns.HmacSHA384, "hmac-sha512": dns.HmacSHA512,
}

// checkTSIG reads every key's secret file into it, and checks the keys
// that [transfer] names. A secret file must be readable, hold base64 and
// not be readable or writable by every user (mode o+r or o+w): BIND's and
// Knot's packages keep theirs root:bind or root:knot, mode 0640, so a
// group that the server runs as may read it.
func (c *Config) checkTSIG(path string, data []byte) []string {
	var errs []string
	bad := func(key []string, format string, args ...any) {
		where := at(path, data, key)
		if where == path {
			where = at(path, data, key[:len(key)-1])
		}
		errs = append(errs, where+": "+quotedKey(key)+": "+fmt.Sprintf(format, args...))
	}
	seen := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(c.TSIG.Keys)) {
		k := c.TSIG.Keys[name]
		key := []string{"tsig", "keys", name}
		if c.undecoded[normKey(quotedKey(key))] {
			continue
		}
		fqdn := TSIGName(name)
		if _, ok := dns.IsDomainName(fqdn); !ok || fqdn == "." {
			bad(key, "%q is not a domain name, as a key name must be", name)
			continue
		}
		if other, dup := seen[fqdn]; dup {
			bad(key, "the same key name as tsig.keys.%s", other)
		}
		seen[fqdn] = name
		if _, ok := tsigAlgorithms[strings.TrimSuffix(strings.ToLower(k.Algorithm), ".")]; !ok {
			if k.Algorithm == "" {
				bad(append(key, "algorithm"), "missing: one of hmac-sha1, hmac-sha224, hmac-sha256, hmac-sha384, hmac-sha512")
			} else {
				bad(append(key, "algorithm"), "%q is not one of hmac-sha1, hmac-sha224, hmac-sha256, hmac-sha384, hmac-sha512", k.Algorithm)
			}
		}
		k.SecretFile = c.Rel(k.SecretFile)
		if k.SecretFile == "" {
			bad(append(key, "secret_file"), "missing: a file that holds the base64 secret")
		} else if secret, err := readSecret(k.SecretFile); err != nil {
			bad(append(key, "secret_file"), "%v", err)
		} else {
			k.secret = secret
		}
		c.TSIG.Keys[name] = k
	}
	for i, n := range c.Transfer.Keys {
		if _, ok := c.tsigKey(n); !ok {
			bad([]string{"transfer", "keys"}, "%q (entry %d) is not defined in a [tsig.keys.%s] table", n, i+1, n)
		}
	}
	if n := c.Transfer.NotifyKey; n != "" {
		if _, ok := c.tsigKey(n); !ok {
			bad([]string{"transfer", "notify_key"}, "%q is not defined in a [tsig.keys.%s] table", n, n)
		} else if len(c.Transfer.Notify) == 0 {
			bad([]string{"transfer", "notify_key"}, "set, but transfer.notify names no secondary")
		}
	}
	return errs
}

// SecretFiles lists the keys' secret files, for the watcher.
func (c TSIGConfig) SecretFiles() []string {
	var out []string
	for _, n := range slices.Sorted(maps.Keys(c.Keys)) {
		if f := c.Keys[n].SecretFile; f != "" {
			out = append(out, f)
		}
	}
	return out
}

// tsigKey finds a key of [tsig.keys] by its name as [transfer] writes it
// (key names compare as domain names: case and the final dot aside).
func (c *Config) tsigKey(name string) (TSIGKeyConfig, bool) {
	for n, k := range c.TSIG.Keys {
		if TSIGName(n) == TSIGName(name) {
			return k, true
		}
	}
	return TSIGKeyConfig{}, false
}

// TSIGName is a key name as TSIG records carry it: lower case, fully
// qualified.
func TSIGName(name string) string {
	return dns.CanonicalName(name)
}

// readPrivateFile reads a file that holds a secret (TSIG, cookie and
// gossip keys): a regular file that not every user may read or write.
func readPrivateFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err // "stat PATH: no such file or directory"
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if m := fi.Mode().Perm(); m&0o006 != 0 {
		return nil, fmt.Errorf("%s may be read or written by every user (mode %04o): chmod o-rw %s (0640 or 0600)", path, m, path)
	}
	return os.ReadFile(path)
}

// readSecret reads a secret file: base64 alone (spaces and line ends
// around it are dropped), in a file that not every user may read.
func readSecret(path string) (string, error) {
	b, err := readPrivateFile(path)
	if err != nil {
		return "", err
	}
	s := strings.Join(strings.Fields(string(b)), "")
	if s == "" {
		return "", fmt.Errorf("%s is empty: it must hold the base64 secret", path)
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return "", fmt.Errorf("%s does not hold a base64 secret: %v", path, err)
	}
	if len(raw) == 0 {
		return "", fmt.Errorf("%s holds an empty secret", path)
	}
	return base64.StdEncoding.EncodeToString(raw), nil
}

// Secret is the key's secret, base64, as check read it from SecretFile
// ("" if it could not).
func (k TSIGKeyConfig) Secret() string { return k.secret }

// TSIGAlgorithm is the algorithm name TSIG records carry (dns.HmacSHA256
// and friends) for an algorithm as the config writes it.
func TSIGAlgorithm(alg string) (string, bool) {
	a, ok := tsigAlgorithms[strings.TrimSuffix(strings.ToLower(alg), ".")]
	return a, ok
}
