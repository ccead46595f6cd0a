package dnslb

import (
	"errors"
	"strings"
	"testing"

	"github.com/dnslb/dnslb/dnslb/admin"
)

// TestExplainPlainLive: the running server explains a name without a
// [name] table as the zone's records.
func TestExplainPlainLive(t *testing.T) {
	srv := newConfigServer(t, "testdata/dnslb.toml")
	out, err := srv.Explain("mail.example.org", "A", "192.0.2.1", "")
	if err != nil || !strings.Contains(out, "mail.example.org. is not load-balanced") || !strings.Contains(out, "round-robin order") {
		t.Errorf("Explain(mail.example.org) = %q, %v", out, err)
	}
	if _, err := srv.Explain("nope.example.org", "A", "192.0.2.1", ""); !errors.Is(err, admin.ErrUnknownTarget) {
		t.Errorf("Explain(nope.example.org) error %v, want admin.ErrUnknownTarget", err)
	}
	if _, err := srv.Explain("www.example.com", "A", "192.0.2.1", ""); !errors.Is(err, admin.ErrUnknownTarget) || !strings.Contains(err.Error(), "in no zone this server serves: a query for it gets REFUSED") {
		t.Errorf("Explain(www.example.com) error %v, want REFUSED and admin.ErrUnknownTarget", err)
	}
}
