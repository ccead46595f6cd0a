package dnssec

import (
	"crypto"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// Algorithms are the DNSSEC algorithms dnslb signs with.
var Algorithms = []uint8{dns.ECDSAP256SHA256, dns.ED25519}

// Flag bits of a DNSKEY (RFC 4034 section 2.1.1).
const (
	flagZone = 0x0100
	flagSEP  = 0x0001
)

// Key is one zone key: its public DNSKEY and private half, and the file
// it came from (without .key / .private).
type Key struct {
	DNSKEY *dns.DNSKEY
	Priv   crypto.Signer
	Base   string
}

// Tag is the key's tag.
func (k *Key) Tag() uint16 { return k.DNSKEY.KeyTag() }

// KSK reports whether the key has the SEP flag (a KSK, or a CSK).
func (k *Key) KSK() bool { return k.DNSKEY.Flags&flagSEP != 0 }

// Generate makes a new key for zone (fully qualified) with algorithm alg
// (13 or 15); ksk sets the SEP flag (a KSK or a CSK).
func Generate(zone string, alg uint8, ksk bool) (*Key, error) {
	if !slices.Contains(Algorithms, alg) {
		return nil, fmt.Errorf("algorithm %d: dnslb signs with 13 (ECDSAP256SHA256) or 15 (ED25519)", alg)
	}
	k := &dns.DNSKEY{Hdr: dns.RR_Header{Name: dns.CanonicalName(zone), Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600},
		Flags: flagZone, Protocol: 3, Algorithm: alg}
	if ksk {
		k.Flags |= flagSEP
	}
	priv, err := k.Generate(256) // both algorithms have 256-bit keys
	if err != nil {
		return nil, err
	}
	s, ok := priv.(crypto.Signer)
	if !ok {
		return nil, errors.New("generated key cannot sign")
	}
	return &Key{DNSKEY: k, Priv: s}, nil
}

// FileBase is the BIND name of the key's files in dir, without suffix:
// K<zone>+<alg>+<tag>, the zone with its final dot, as dnssec-keygen
// names them.
func (k *Key) FileBase(dir string) string {
	return filepath.Join(dir, fmt.Sprintf("K%s+%03d+%05d", k.DNSKEY.Hdr.Name, k.DNSKEY.Algorithm, k.Tag()))
}

// Write writes the key's .key (0644) and .private (0600) files into dir
// and returns their base name. It refuses to overwrite a file.
func (k *Key) Write(dir string) (string, error) {
	base := k.FileBase(dir)
	pub := fmt.Sprintf("; This is a %s, keyid %d, for %s\n%s\n", role(k), k.Tag(), k.DNSKEY.Hdr.Name, k.DNSKEY.String())
	if err := writeNew(base+".key", []byte(pub), 0o644); err != nil {
		return "", err
	}
	if err := writeNew(base+".private", []byte(k.DNSKEY.PrivateKeyString(k.Priv)), 0o600); err != nil {
		_ = os.Remove(base + ".key")
		return "", err
	}
	k.Base = base
	return base, nil
}

func role(k *Key) string {
	if k.KSK() {
		return "key-signing key"
	}
	return "zone-signing key"
}

func writeNew(path string, data []byte, mode fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if err := f.Chmod(mode); err != nil { // whatever the umask
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Read reads the key whose files are base+".key" and base+".private"
// (base may end in either suffix) for zone (fully qualified; "" takes any
// zone). Every problem is an error naming the file: a missing or
// unreadable file, a private file readable by others, a key of another
// zone, an algorithm dnslb does not sign with, a DNSKEY without the zone
// flag, a private key that is not the public one's.
func Read(base, zone string) (*Key, error) {
	base = strings.TrimSuffix(strings.TrimSuffix(base, ".key"), ".private")
	pubPath, privPath := base+".key", base+".private"
	data, err := os.ReadFile(pubPath)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", pubPath, plainErr(err))
	}
	rr, line, err := firstRR(pubPath, data)
	if err != nil {
		return nil, err
	}
	k, ok := rr.(*dns.DNSKEY)
	if !ok {
		return nil, fmt.Errorf("%s:%d: %s record where a DNSKEY was expected", pubPath, line, dns.TypeToString[rr.Header().Rrtype])
	}
	at := fmt.Sprintf("%s:%d", pubPath, line)
	if zone != "" && !strings.EqualFold(dns.CanonicalName(k.Hdr.Name), dns.CanonicalName(zone)) {
		return nil, fmt.Errorf("%s: key of zone %s, not %s", at, k.Hdr.Name, dns.CanonicalName(zone))
	}
	if !slices.Contains(Algorithms, k.Algorithm) {
		return nil, fmt.Errorf("%s: algorithm %d (%s): dnslb signs with 13 (ECDSAP256SHA256) or 15 (ED25519)", at, k.Algorithm, dns.AlgorithmToString[k.Algorithm])
	}
	if k.Flags&flagZone == 0 || k.Protocol != 3 {
		return nil, fmt.Errorf("%s: not a zone key (flags %d, protocol %d)", at, k.Flags, k.Protocol)
	}
	fi, err := os.Stat(privPath)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", privPath, plainErr(err))
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s: private key readable by others (mode %04o): chmod 600 it", privPath, fi.Mode().Perm())
	}
	f, err := os.Open(privPath)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", privPath, plainErr(err))
	}
	defer f.Close()
	priv, err := k.ReadPrivateKey(f, privPath)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", privPath, err)
	}
	s, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: private key cannot sign", privPath)
	}
	if !samePublic(k, s) {
		return nil, fmt.Errorf("%s: private key is not the one of %s", privPath, pubPath)
	}
	k.Hdr.Name = dns.CanonicalName(k.Hdr.Name)
	return &Key{DNSKEY: k, Priv: s, Base: base}, nil
}

// samePublic reports whether priv is the private half of k: a signature
// made with it verifies with k.
func samePublic(k *dns.DNSKEY, priv crypto.Signer) bool {
	probe := &dns.RRSIG{Hdr: dns.RR_Header{Name: k.Hdr.Name, Rrtype: dns.TypeRRSIG, Class: dns.ClassINET, Ttl: 60},
		Algorithm: k.Algorithm, SignerName: k.Hdr.Name, KeyTag: k.KeyTag(), Inception: 1, Expiration: 1 << 31}
	set := []dns.RR{k}
	if err := probe.Sign(priv, set); err != nil {
		return false
	}
	return probe.Verify(k, set) == nil
}

func firstRR(path string, data []byte) (dns.RR, int, error) {
	zp := dns.NewZoneParser(strings.NewReader(string(data)), ".", path)
	rr, ok := zp.Next()
	if err := zp.Err(); err != nil {
		return nil, 0, fmt.Errorf("%v", err)
	}
	if !ok || rr == nil {
		return nil, 0, fmt.Errorf("%s: no DNSKEY record", path)
	}
	// The line: the first line that is not a comment or blank.
	line := 1
	for i, l := range strings.Split(string(data), "\n") {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, ";") {
			line = i + 1
			break
		}
	}
	return rr, line, nil
}

func plainErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// ReadDir reads every key of zone in dir: the files K<zone>+*.key (the
// zone with or without its final dot). It returns the keys read and an
// error per key that did not read (none when dir holds no key of zone).
func ReadDir(dir, zone string) ([]*Key, []error) {
	zone = dns.CanonicalName(zone)
	var keys []*Key
	var errs []error
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, []error{fmt.Errorf("%s: %v", dir, plainErr(err))}
	}
	for _, e := range ents {
		n := e.Name()
		if !strings.HasSuffix(n, ".key") || !strings.HasPrefix(strings.ToLower(n), "k") {
			continue
		}
		z, _, _ := strings.Cut(n[1:], "+")
		if dns.CanonicalName(z) != zone {
			continue
		}
		k, err := Read(filepath.Join(dir, n), zone)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		keys = append(keys, k)
	}
	return keys, errs
}

// DS is the DS record (SHA-256) of a KSK, for the parent zone.
func (k *Key) DS() *dns.DS { return k.DNSKEY.ToDS(dns.SHA256) }
