package cookie

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"
)

// Secret is a 128-bit server secret (RFC 9018 section 4.4).
type Secret [16]byte

// ParseSecret reads a secret written as 32 hexadecimal digits.
func ParseSecret(s string) (Secret, error) {
	var k Secret
	if len(s) != 2*len(k) {
		return k, fmt.Errorf("%d hex digits, want 32 (a 128-bit secret)", len(s))
	}
	if _, err := hex.Decode(k[:], []byte(s)); err != nil {
		return k, fmt.Errorf("not hexadecimal: %v", err)
	}
	return k, nil
}

// RandomSecret returns a secret from the system's random source.
func RandomSecret() Secret {
	var k Secret
	_, _ = rand.Read(k[:]) // never fails (crypto/rand since Go 1.24)
	return k
}

// Lengths of the parts of a COOKIE option (RFC 7873 section 4).
const (
	ClientLen = 8  // the client cookie
	ServerLen = 16 // the server cookie of RFC 9018
	// ReplyLen is the option data a reply carries: the client cookie
	// and our server cookie.
	ReplyLen = ClientLen + ServerLen
)

// The window of RFC 9018 section 4.3, in seconds: a server cookie is
// good up to an hour after its timestamp and up to five minutes before
// it (clocks of a fleet differ), and replaced by a new one after half an
// hour.
const (
	maxAge    = 3600
	maxAhead  = 300
	renewAge  = 1800
	version   = 1
	maxHashed = ClientLen + 8 + 16 // client cookie, version to timestamp, an IPv6 address
)

// Make is the server cookie (RFC 9018 section 4.2) for client cookie
// client (ClientLen bytes) from addr at time now (seconds since the
// epoch, modulo 2^32), under secret: version 1, reserved bytes zero.
func Make(secret *Secret, client []byte, addr netip.Addr, now uint32) [ServerLen]byte {
	var sc [ServerLen]byte
	sc[0] = version
	binary.BigEndian.PutUint32(sc[4:], now)
	binary.LittleEndian.PutUint64(sc[8:], hash(secret, client, sc[:8], addr))
	return sc
}

// hash is the SipHash-2-4 of client cookie, the server cookie's first
// eight bytes (version, reserved, timestamp) and addr.
func hash(secret *Secret, client, head []byte, addr netip.Addr) uint64 {
	var in [maxHashed]byte
	n := copy(in[:], client[:ClientLen])
	n += copy(in[n:], head[:8])
	addr = addr.Unmap()
	if addr.Is4() {
		a := addr.As4()
		n += copy(in[n:], a[:])
	} else {
		a := addr.As16()
		n += copy(in[n:], a[:])
	}
	return sipHash24(secret, in[:n])
}

// Result is what a query's COOKIE option showed.
type Result uint8

const (
	None       Result = iota // no COOKIE option
	ClientOnly               // a client cookie alone
	Good                     // a server cookie we (or our fleet) made, in its window
	Bad                      // a server cookie that does not verify, or is out of its window
	Malformed                // an option of a length RFC 7873 section 5.2.2 answers with FORMERR
	NumResults
)

var resultNames = [NumResults]string{"none", "client_only", "good", "bad", "malformed"}

// String is the result's name, as the metrics label it.
func (r Result) String() string {
	if r < NumResults {
		return resultNames[r]
	}
	return "unknown"
}

// WellFormed reports whether n is a length a COOKIE option's data may
// have: a client cookie alone (8), or with a server cookie of 8 to 32
// bytes (RFC 7873 section 5.2.2).
func WellFormed(n int) bool {
	return n == ClientLen || n >= ClientLen+8 && n <= ClientLen+32
}

// Checker checks server cookies against the current and the previous
// secret. It is safe for concurrent use; SetSecrets changes the secrets
// for every query after it.
type Checker struct {
	keys atomic.Pointer[keys]
	now  func() time.Time
}

type keys struct {
	cur, prev Secret
	hasPrev   bool
}

// NewChecker returns a Checker under secret cur, accepting cookies of
// prev too when it is not nil, reading the time from now (time.Now when
// nil).
func NewChecker(cur Secret, prev *Secret, now func() time.Time) *Checker {
	if now == nil {
		now = time.Now
	}
	c := &Checker{now: now}
	c.SetSecrets(cur, prev)
	return c
}

// SetSecrets replaces the secrets (a reload, a rollover).
func (c *Checker) SetSecrets(cur Secret, prev *Secret) {
	k := &keys{cur: cur}
	if prev != nil {
		k.prev, k.hasPrev = *prev, true
	}
	c.keys.Store(k)
}

// Check reads a COOKIE option's data (the client cookie, then the server
// cookie if any) from a query that came from addr, and writes into out
// the option data the reply carries (the client cookie and our server
// cookie). RFC 7873 section 5.2 and RFC 9018 section 4.3: a client
// cookie alone, or with a server cookie that does not verify under
// either secret or is out of its window, gets a new server cookie; a
// good one is echoed, or replaced when it is older than half an hour or
// was made with the previous secret. For Malformed, out is not written
// (the reply is FORMERR).
func (c *Checker) Check(data []byte, addr netip.Addr, out *[ReplyLen]byte) Result {
	if !WellFormed(len(data)) {
		return Malformed
	}
	k := c.keys.Load()
	now := uint32(c.now().Unix())
	copy(out[:], data[:ClientLen])
	r, echo := c.verify(k, data, addr, now)
	if echo {
		copy(out[ClientLen:], data[ClientLen:])
	} else {
		sc := Make(&k.cur, data, addr, now)
		copy(out[ClientLen:], sc[:])
	}
	return r
}

// verify says what data showed, and whether its server cookie may be
// echoed as it is.
func (c *Checker) verify(k *keys, data []byte, addr netip.Addr, now uint32) (r Result, echo bool) {
	if len(data) == ClientLen {
		return ClientOnly, false
	}
	sc := data[ClientLen:]
	if len(sc) != ServerLen || sc[0] != version {
		return Bad, false
	}
	ts := binary.BigEndian.Uint32(sc[4:])
	age := int32(now - ts) // serial number arithmetic (RFC 1982): the timestamp wraps
	if age > maxAge || age < -maxAhead {
		return Bad, false
	}
	var got [8]byte
	binary.LittleEndian.PutUint64(got[:], hash(&k.cur, data, sc, addr))
	if subtle.ConstantTimeCompare(got[:], sc[8:]) == 1 {
		return Good, age <= renewAge
	}
	if k.hasPrev {
		binary.LittleEndian.PutUint64(got[:], hash(&k.prev, data, sc, addr))
		if subtle.ConstantTimeCompare(got[:], sc[8:]) == 1 {
			return Good, false // a new one under the current secret
		}
	}
	return Bad, false
}
