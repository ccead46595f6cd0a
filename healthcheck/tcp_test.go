package healthcheck

import (
	"bufio"
	"context"
	"net"
	"sync"
	"testing"
	"time"
)

func TestTCPChecker(t *testing.T) {
	up := listenTCP(t, "127.0.0.1:0")
	down, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down.Close()
	echo := echoServer(t)

	tests := []struct {
		name   string
		cfg    Config
		reason string
	}{
		{"connect", Config{Type: "tcp", Port: portOf(t, up.Addr())}, "ok"},
		{"refused", Config{Type: "tcp", Port: portOf(t, down.Addr())}, "connection refused"},
		{"target overrides address", Config{Type: "tcp", Target: up.Addr().String()}, "ok"},
		{"send expect", Config{Type: "tcp", Port: echo, Send: "PING\n", Expect: "PONG"}, "ok"},
		{"reply mismatch", Config{Type: "tcp", Port: echo, Send: "HELLO\n", Expect: "PONG"}, "reply mismatch"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := check(mustChecker(t, tc.cfg), loopback)
			if got.Reason != tc.reason || got.OK != (tc.reason == "ok") {
				t.Errorf("Check = %+v, want reason %q", got, tc.reason)
			}
		})
	}
}

func TestTCPCheckerTimeout(t *testing.T) {
	// A server that accepts but never answers: expect must time out.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() })
	var conns sync.WaitGroup
	conns.Go(func() {
		c, err := silent.Accept()
		if err == nil {
			defer c.Close()
			c.Read(make([]byte, 1))
		}
	})
	c := mustChecker(t, Config{Type: "tcp", Port: portOf(t, silent.Addr()), Expect: "never"})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if got := c.Check(ctx, loopback); got.OK || got.Reason != "timeout" {
		t.Errorf("Check = %+v, want reason timeout", got)
	}
	silent.Close()
	conns.Wait()
}

// echoServer answers "PING" lines with "PONG" and anything else with "ERR".
func echoServer(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				line, _ := bufio.NewReader(c).ReadString('\n')
				if line == "PING\n" {
					c.Write([]byte("+PONG\r\n"))
				} else {
					c.Write([]byte("-ERR\r\n"))
				}
			}()
		}
	}()
	return portOf(t, ln.Addr())
}

// TestSchedulerTCP runs the scheduler against a real listener: stopping it
// takes the target down after fall failures, restarting it brings the
// target up after rise successes.
func TestSchedulerTCP(t *testing.T) {
	ln := listenTCP(t, "127.0.0.1:0")
	addr := ln.Addr().String()
	cfg := Config{Type: "tcp", Port: portOf(t, ln.Addr()),
		Interval: 50 * time.Millisecond, Timeout: 45 * time.Millisecond, Rise: 2, Fall: 3}
	changes := make(chan Status, 10)
	s := New(SchedulerConfig{
		OnChange: func(st Status) { changes <- st },
		// The real checker, without Validate's 1s minimum interval.
		NewChecker: func(c Config) (Checker, error) { return newTCPChecker(c), nil },
	})
	key := Key{Check: "tcp", Addr: loopback}
	if err := s.SetTargets([]Target{{Key: key, Config: cfg}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	if err := s.WaitInitial(ctx, 5*time.Second); err != nil {
		t.Fatalf("WaitInitial: %v", err)
	}
	expectChange(t, changes, Up, "ok")
	ln.Close()
	st := expectChange(t, changes, Down, "connection refused")
	if st.Failures != 3 {
		t.Errorf("down after %d failures, want 3", st.Failures)
	}
	listenTCP(t, addr)
	st = expectChange(t, changes, Up, "ok")
	if st.Successes != 2 || st.Flaps != 2 {
		t.Errorf("up after %d successes with %d flaps, want 2 and 2", st.Successes, st.Flaps)
	}
}

func expectChange(t *testing.T, changes <-chan Status, state State, reason string) Status {
	t.Helper()
	select {
	case st := <-changes:
		if st.State != state || st.Reason != reason {
			t.Fatalf("OnChange(%v %q), want %v %q", st.State, st.Reason, state, reason)
		}
		return st
	case <-time.After(10 * time.Second):
		t.Fatalf("no change to %v within 10s", state)
	}
	return Status{}
}
