package dnslb

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/dnslb/dnslb/dnslb/admin"
	"github.com/dnslb/dnslb/dnslb/config"
)

func postFeed(t *testing.T, base, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(base+"/api/feed", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var res admin.ActionResult
	if err := json.Unmarshal(b, &res); err != nil {
		return resp.StatusCode, string(bytes.TrimSpace(b))
	}
	return resp.StatusCode, res.Error
}

// TestFeed: weights and states pushed to POST /api/feed move the answers
// of a weighted name, a pushed load is what the name's watermarks read,
// bad entries are refused with the entry and key named, and a pushed value
// expires after health.feed_ttl.
func TestFeed(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a feed to expire")
	}
	bs, port := startBackends(t, 3)
	for _, b := range bs {
		b.body.Store(`{"load": 0.2}`)
	}
	cfgPath := writeLBConfig(t, fmt.Sprintf(`
[health]
feed_ttl = "3s"

[healthcheck.lb]
type = "load"
port = %d
interval = "1s"
timeout = "500ms"

[name."www.example.org"]
check = "lb"
pick = "weighted"
high_watermark = 0.8
max_answers = 1
`, port))
	srv, addr := startServer(t, cfgPath)
	hs := httptest.NewServer(admin.New(config.AdminConfig{}, srv, srv.Metrics(), slog.New(slog.DiscardHandler)).Handler())
	defer hs.Close()
	waitFor(t, "the first loads", func() bool { return smoothedIs(t, srv, "127.0.0.3", 0.2) })

	code, body := postFeed(t, hs.URL, `{"feed": [{"address": "127.0.0.9", "weight": 5}]}`)
	if code != http.StatusNotFound {
		t.Errorf("feed for an unknown address: %d %s, want 404", code, body)
	}
	code, body = postFeed(t, hs.URL, `{"feed": [{"address": "127.0.0.1", "weight": 5, "load": 0.5}, {"address": "x"}, {"address": "127.0.0.2", "state": "drain"}]}`)
	for _, want := range []string{"feed[0].weight: weight and load are exclusive", `feed[1].address: "x" is not an IP address`, `feed[2].state: "drain" is not one of up, down`} {
		if code != http.StatusBadRequest || !strings.Contains(body, want) {
			t.Errorf("bad feed: %d %s, want 400 with %q", code, body, want)
		}
	}

	// 127.0.0.1 pushed above the high watermark: shed; 127.0.0.2 down.
	if code, body := postFeed(t, hs.URL, `{"feed": [{"address": "127.0.0.1", "load": 0.95}, {"address": "127.0.0.2", "state": "down"}]}`); code != http.StatusOK {
		t.Fatalf("feed: %d %s", code, body)
	}
	www := func() []string { return answerAddrs(queryA(t, addr, "www.example.org.")) }
	waitFor(t, "the feed to take effect", func() bool {
		_, as := addrStatus(t, srv, "127.0.0.1")
		return as.State == "shed"
	})
	for range 30 {
		if got := www(); !slices.Equal(got, []string{"127.0.0.3"}) {
			t.Fatalf("127.0.0.1 shed by a pushed load, 127.0.0.2 pushed down: answer %v, want [127.0.0.3]", got)
		}
	}
	if _, as := addrStatus(t, srv, "127.0.0.2"); as.Load == nil {
		t.Errorf("127.0.0.2: no load in the status")
	}
	// The feed expires: the probes' loads and verdicts are back.
	waitFor(t, "the feed to expire", func() bool {
		seen := map[string]bool{}
		for range 30 {
			for _, a := range www() {
				seen[a] = true
			}
		}
		return len(seen) == 3
	})
}
