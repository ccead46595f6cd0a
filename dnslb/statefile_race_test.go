package dnslb

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dnslb/dnslb/dnslb/admin"
	"github.com/dnslb/dnslb/dnslb/config"
)

// stateAddrs are the addresses of www.example.org in writeStateConfig's zone.
var stateAddrs = []string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5", "192.0.2.6", "192.0.2.7", "192.0.2.8"}

// writeStateConfig writes a config with one load-balanced name of eight
// addresses and a state file in dir; adminAddr is its admin listen address
// ("" for none). It returns the config's and the state file's paths.
func writeStateConfig(t testing.TB, dir, adminAddr string) (string, string) {
	t.Helper()
	zone := "$ORIGIN example.org.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 600 86400 60\n  IN NS ns1\nns1 IN A 192.0.2.53\n"
	for _, a := range stateAddrs {
		zone += "www IN A " + a + "\n"
	}
	if err := os.MkdirAll(filepath.Join(dir, "zones"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "zones", "example.org.zone"), []byte(zone), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := "zone_dir = \"zones\"\n[server]\nlisten = [\"127.0.0.1:0\"]\nwatch_interval = \"-1s\"\n[health]\nstate_file = \"state.json\"\n"
	if adminAddr != "" {
		cfg += "[admin]\nlisten = \"" + adminAddr + "\"\n"
	}
	cfg += "[name.\"www.example.org\"]\npick = \"round-robin\"\n"
	path := filepath.Join(dir, "dnslb.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, filepath.Join(dir, "state.json")
}

func readStateJSON(t testing.TB, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("%s: %v\n%s", path, err, data)
	}
	return m
}

func postOverride(c *http.Client, base, target, state string) (int, error) {
	body, _ := json.Marshal(admin.OverrideRequest{Target: target, State: state})
	resp, err := c.Post(base+"/api/override", "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// TestStateFileConcurrentOverrides: 1,000 override calls at once through
// the admin API all answer 200, and the file is then valid JSON equal to
// the last state; no temporary file is left.
func TestStateFileConcurrentOverrides(t *testing.T) {
	dir := t.TempDir()
	path, state := writeStateConfig(t, dir, "")
	srv, _ := startServer(t, path)
	hs := httptest.NewServer(admin.New(config.AdminConfig{}, srv, srv.Metrics(), slog.New(slog.DiscardHandler)).Handler())
	defer hs.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}
	states := []string{"drain", "up", "down", ""}
	var wg sync.WaitGroup
	codes := make([]int, 1000)
	errs := make([]error, 1000)
	sem := make(chan struct{}, 200) // at most 200 requests in flight
	for i := range 1000 {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			codes[i], errs[i] = postOverride(client, hs.URL, stateAddrs[i%len(stateAddrs)], states[(i/len(stateAddrs))%len(states)])
		})
	}
	wg.Wait()
	bad := 0
	for i := range codes {
		if codes[i] != http.StatusOK || errs[i] != nil {
			if bad++; bad <= 5 {
				t.Errorf("call %d: %d %v", i, codes[i], errs[i])
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of 1000 calls failed", bad)
	}
	got := readStateJSON(t, state)
	if want := srv.Store().Overrides(); !reflect.DeepEqual(got, want) {
		t.Errorf("state file %v, want the last state %v", got, want)
	}
	if olds, _ := filepath.Glob(state + ".tmp-*"); len(olds) > 0 {
		t.Errorf("temporary files left: %v", olds)
	}
}

// TestStateFileCorrupt: a state file that is not JSON is kept aside and
// reported (error log, status, /readyz, metric); one with a misspelt
// state has the entry named with its line, the others applied.
func TestStateFileCorrupt(t *testing.T) {
	dir := t.TempDir()
	path, state := writeStateConfig(t, dir, "")
	if err := os.WriteFile(state, []byte("{\n  \"192.0.2.1\": \"drain\",\n  \"192.0.2.2\": \"dr"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv, _ := startServer(t, path)
	p := srv.Status().StateFile
	if p == nil || !strings.HasPrefix(filepath.Base(p.MovedTo), "state.json.corrupt-") || len(p.Errors) != 1 ||
		!strings.HasPrefix(p.Errors[0], state+":3: ") {
		t.Fatalf("status state_file = %+v", p)
	}
	if _, err := os.Stat(p.MovedTo); err != nil {
		t.Errorf("kept aside: %v", err)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("state file still there: %v", err)
	}
	if v := metricValue(t, srv, "dnslb_state_file_corrupt"); v != 1 {
		t.Errorf("dnslb_state_file_corrupt = %v", v)
	}
	get := func(path string) *httptest.ResponseRecorder {
		rec, req := httptest.NewRecorder(), httptest.NewRequest("GET", path, nil)
		req.Host = "127.0.0.1"
		admin.New(config.AdminConfig{}, srv, srv.Metrics(), slog.New(slog.DiscardHandler)).Handler().ServeHTTP(rec, req)
		return rec
	}
	rec := get("/readyz")
	if body := rec.Body.String(); !strings.Contains(body, "state file invalid at startup: "+state+":3: ") {
		t.Errorf("/readyz: %d %q", rec.Code, body)
	}
	rec = get("/")
	if body := rec.Body.String(); !strings.Contains(body, `id="state-file"`) || !strings.Contains(body, "state.json.corrupt-") {
		t.Errorf("status page has no state file banner")
	}

	// A misspelt state.
	dir2 := t.TempDir()
	path2, state2 := writeStateConfig(t, dir2, "")
	if err := os.WriteFile(state2, []byte("{\n  \"192.0.2.1\": \"drain\",\n  \"192.0.2.2\": \"drian\"\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	want := state2 + `:3: entry "192.0.2.2": unknown state "drian" (want drain, up or down)`
	if _, _, err := Check(path2); err == nil || err.Error() != want {
		t.Errorf("Check = %v, want %s", err, want)
	}
	srv2, _ := startServer(t, path2)
	if p := srv2.Status().StateFile; p == nil || len(p.Errors) != 1 || p.Errors[0] != want || p.MovedTo == "" {
		t.Errorf("status state_file = %+v, want %s", p, want)
	}
	if got := srv2.Store().Overrides(); !reflect.DeepEqual(got, map[string]string{"192.0.2.1": "drain"}) {
		t.Errorf("overrides %v, want the valid drain kept", got)
	}
	if got := readStateJSON(t, state2); !reflect.DeepEqual(got, map[string]string{"192.0.2.1": "drain"}) {
		t.Errorf("state file rewritten as %v", got)
	}
	if _, _, err := Check(path2); err != nil {
		t.Errorf("Check after the rewrite: %v", err)
	}
}

// TestStateFileKill9: the built binary, killed with SIGKILL at a random
// moment while overrides are set in parallel, leaves a state file that
// parses (or none yet), and a restart keeps every drain the file had.
func TestStateFileKill9(t *testing.T) {
	rounds := 100
	if testing.Short() {
		rounds = 30
	}
	bin := filepath.Join(t.TempDir(), "dnslb")
	build := exec.Command("go", "build", "-o", bin, "../cmd/dnslb")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := t.TempDir()
	adminAddr := freePort(t)
	path, state := writeStateConfig(t, dir, adminAddr)
	base := "http://" + adminAddr
	client := &http.Client{Timeout: 5 * time.Second}
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "serve", "-config", path)
		var logs bytes.Buffer
		cmd.Stdout, cmd.Stderr = io.Discard, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			if resp, err := client.Get(base + "/readyz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return cmd
				}
			}
			if time.Now().After(deadline) {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
				t.Fatalf("dnslb did not get ready:\n%s", logs.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	status := func() map[string]string {
		resp, err := client.Get(base + "/api/status")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var st admin.Status
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, n := range st.Names {
			for _, a := range n.Addresses {
				if a.Override != "" {
					out[a.Addr.String()] = a.Override
				}
			}
		}
		return out
	}
	states := []string{"drain", "up", "down", ""}
	var answered, withFile int // calls answered 200; rounds that ended with a state file
	for round := range rounds {
		cmd := start()
		// What the file says is what this start must have applied.
		if before, err := os.ReadFile(state); err == nil {
			var want map[string]string
			if err := json.Unmarshal(before, &want); err != nil {
				t.Fatalf("round %d: state file at start: %v\n%s", round, err, before)
			}
			if got := status(); !reflect.DeepEqual(got, want) {
				t.Fatalf("round %d: after restart overrides %v, the file had %v", round, got, want)
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		var mu sync.Mutex
		failed := 0
		for w := range 8 {
			wg.Go(func() {
				for i := 0; ctx.Err() == nil && i < 200; i++ {
					code, err := postOverride(client, base, stateAddrs[(w+i)%len(stateAddrs)], states[rand.IntN(len(states))])
					mu.Lock()
					if err == nil && code != http.StatusOK {
						failed++
					} else if err == nil {
						answered++
					}
					mu.Unlock()
				}
			})
		}
		time.Sleep(time.Duration(rand.IntN(150)) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		cancel()
		wg.Wait()
		if failed > 0 {
			t.Errorf("round %d: %d override calls answered other than 200", round, failed)
		}
		if data, err := os.ReadFile(state); err == nil {
			withFile++
			var m map[string]string
			if err := json.Unmarshal(data, &m); err != nil {
				t.Fatalf("round %d: state file after kill -9: %v\n%s", round, err, data)
			}
		} else if !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if olds, _ := filepath.Glob(filepath.Join(dir, "*.corrupt-*")); len(olds) > 0 {
			t.Fatalf("round %d: a state file was found corrupt: %v", round, olds)
		}
	}
	t.Logf("%d rounds: %d override calls answered 200 before the kill, %d rounds ended with a state file", rounds, answered, withFile)
	if answered == 0 || withFile == 0 {
		t.Errorf("no override was set before a kill: the test tested nothing")
	}
	// The last start cleans up temporary files a kill left.
	cmd := start()
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	if olds, _ := filepath.Glob(state + ".tmp-*"); len(olds) > 0 {
		t.Errorf("temporary files left after a start: %v", olds)
	}
}

// freePort returns a loopback address with a port free a moment ago. The
// address is a random one of 127.0.0.0/8, not 127.0.0.1, so that an
// ephemeral port other sockets take from 127.0.0.1 in the meantime cannot
// collide with it (a test that restarts a server on it needs it again).
func freePort(t testing.TB) string {
	t.Helper()
	ip := fmt.Sprintf("127.%d.%d.%d", 100+rand.IntN(100), rand.IntN(256), 1+rand.IntN(254))
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return fmt.Sprint(ln.Addr())
}
