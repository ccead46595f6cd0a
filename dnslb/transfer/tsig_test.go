package transfer

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnslb/dnslb/dnslb/config"
)

// TestNewSettings: the keys of [tsig] by their fully qualified lower-case
// names, with their algorithms and secrets; the keys [transfer] lets
// transfer, however written; the key that signs NOTIFYs; allow and notify
// parsed.
func TestNewSettings(t *testing.T) {
	const secret1 = "c2VjcmV0IG9uZSBmb3IgdGhlIGRuc2xiIHRlc3RzIQ=="
	const secret2 = "c2Vjb25kIHNlY3JldCBmb3IgdGhlIGRuc2xiIHRlc3Q="
	dir := t.TempDir()
	for name, s := range map[string]string{"k1.secret": secret1, "k2.secret": secret2} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "dnslb.toml")
	if err := os.WriteFile(filepath.Join(dir, "example.org.zone"), []byte("$ORIGIN example.org.\n@ 300 IN SOA ns1 host 1 3600 600 86400 300\n@ 300 IN NS ns1\nns1 300 IN A 192.0.2.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	text := `zone_dir = "."
[tsig.keys.k1]
algorithm = "hmac-sha256"
secret_file = "k1.secret"
[tsig.keys."k2.example."]
algorithm = "hmac-sha512"
secret_file = "k2.secret"
[transfer]
allow = ["127.0.0.0/8"]
keys = ["k1.", "K2.Example"]
notify = ["127.0.0.1:53"]
notify_key = "k1"
`
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(path)
	if err != nil {
		t.Fatalf("good config: %v", err)
	}
	x := NewSettings(c.Transfer, c.TSIG)
	if k := x.keys["k1."]; k == nil || k.secret != secret1 || k.alg != dns.HmacSHA256 {
		t.Errorf("k1: %+v", k)
	}
	if k := x.keys["k2.example."]; k == nil || k.secret != secret2 || k.alg != dns.HmacSHA512 {
		t.Errorf("k2.example.: %+v", k)
	}
	if !x.xfrKeys["k1."] || !x.xfrKeys["k2.example."] || x.notifyKey != x.keys["k1."] {
		t.Errorf("transfer keys %v, notify key %v", x.xfrKeys, x.notifyKey)
	}
	if len(x.allow) != 1 || x.allow[0].String() != "127.0.0.0/8" || len(x.notify) != 1 || x.notify[0].String() != "127.0.0.1:53" {
		t.Errorf("allow %v, notify %v", x.allow, x.notify)
	}
}
