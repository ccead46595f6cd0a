package dnslb

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestMixedCaseFits: the reply to a question in mixed case fits the
// requester's size, with the question as asked.
func TestMixedCaseFits(t *testing.T) {
	cfgPath := writeLBConfig(t, "")
	var b strings.Builder
	b.WriteString("$ORIGIN deleg.test.\n$TTL 300\n@ IN SOA ns1 hostmaster 7 3600 600 86400 60\n  IN NS ns1\nns1 IN A 192.0.2.53\n")
	for i := range 40 {
		fmt.Fprintf(&b, "child IN NS ns%d.child\nns%d.child IN A 192.0.2.%d\n", i, i, i+1)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(cfgPath), "zones", "deleg.test.zone"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := newConfigServer(t, cfgPath)
	for size := 512; size <= 1232; size += 7 {
		req := new(dns.Msg)
		req.SetQuestion("WWW.CHILD.DELEG.TEST.", dns.TypeA)
		req.SetEdns0(uint16(size), false)
		pkt, err := req.Pack()
		if err != nil {
			t.Fatal(err)
		}
		w := newUDPWorker(srv)
		out := w.ans.Answer(pkt, netip.MustParseAddrPort("127.0.0.1:1"), w.outs[0], false, time.Now(), nil)
		m := new(dns.Msg)
		if err := m.Unpack(out); err != nil {
			t.Fatal(err)
		}
		if len(out) > size || m.Question[0].Name != "WWW.CHILD.DELEG.TEST." {
			t.Fatalf("EDNS size %d: %d bytes, question %s", size, len(out), m.Question[0].Name)
		}
	}
}
