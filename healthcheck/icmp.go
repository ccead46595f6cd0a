package healthcheck

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// ErrICMPUnavailable is returned, wrapped, by ICMPAvailable and NewChecker
// when this host allows neither unprivileged ICMP echo sockets nor raw
// sockets, so callers can tell it apart from a bad config.
var ErrICMPUnavailable = errors.New("icmp checks need unprivileged ping sockets (sysctl net.ipv4.ping_group_range must include this process's group) or raw sockets (root or CAP_NET_RAW)")

// icmpNetworks are the socket kinds tried in order: unprivileged datagram
// ICMP sockets first, raw sockets second.
var icmpNetworks = map[bool][2]string{
	false: {"udp4", "ip4:icmp"},
	true:  {"udp6", "ip6:ipv6-icmp"},
}

// ICMPAvailable reports whether this process can send ICMP echo requests
// over IPv4, by opening and closing a socket. dnslb calls it (through
// NewChecker) at startup and in "dnslb check" so that a host without
// permission gives one clear error instead of every icmp target going down.
func ICMPAvailable() error {
	_, err := icmpNetwork(false)
	return err
}

// icmpNetwork returns the first socket kind that can be opened.
func icmpNetwork(v6 bool) (string, error) {
	var msgs []string
	for _, network := range icmpNetworks[v6] {
		c, err := icmp.ListenPacket(network, "")
		if err == nil {
			c.Close()
			return network, nil
		}
		msgs = append(msgs, fmt.Sprintf("%s: %v", network, err))
	}
	return "", fmt.Errorf("%w (%s)", ErrICMPUnavailable, strings.Join(msgs, "; "))
}

// icmpChecker sends one echo request per probe from a socket of its own and
// waits for the matching reply.
type icmpChecker struct {
	cfg Config
	v4  string // socket kind for IPv4, found by newICMPChecker
	v6  func() (string, error)
	id  int
	seq atomic.Uint32
}

func newICMPChecker(cfg Config) (*icmpChecker, error) {
	network, err := icmpNetwork(false)
	if err != nil {
		return nil, err
	}
	var b [2]byte
	rand.Read(b[:])
	return &icmpChecker{
		cfg: cfg,
		v4:  network,
		// IPv6 is looked up on first use: many hosts ping only IPv4.
		v6: sync.OnceValues(func() (string, error) { return icmpNetwork(true) }),
		id: int(b[0])<<8 | int(b[1]),
	}, nil
}

func (c *icmpChecker) Check(ctx context.Context, addr netip.Addr) Result {
	start := time.Now()
	if c.cfg.Target != "" {
		addr, _ = netip.ParseAddr(c.cfg.Target) // validated
	}
	addr = addr.Unmap()
	network := c.v4
	if addr.Is6() {
		n, err := c.v6()
		if err != nil {
			return fail(start, err.Error())
		}
		network = n
	}
	err := c.ping(ctx, network, addr)
	if err != nil {
		return fail(start, reason(err))
	}
	return ok(start)
}

func (c *icmpChecker) ping(ctx context.Context, network string, addr netip.Addr) error {
	conn, err := icmp.ListenPacket(network, "")
	if err != nil {
		return err
	}
	defer conn.Close()
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}
	// Close the socket when ctx is cancelled early so the read returns.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()

	var typ, replyType icmp.Type = ipv4.ICMPTypeEcho, ipv4.ICMPTypeEchoReply
	proto := 1
	if addr.Is6() {
		typ, replyType, proto = ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply, 58
	}
	seq := int(c.seq.Add(1) & 0xffff)
	payload := make([]byte, 16)
	rand.Read(payload)
	msg := icmp.Message{Type: typ, Body: &icmp.Echo{ID: c.id, Seq: seq, Data: payload}}
	wb, err := msg.Marshal(nil) // the kernel fills in the ICMPv6 checksum
	if err != nil {
		return err
	}
	raw := !strings.HasPrefix(network, "udp")
	var dst net.Addr = &net.UDPAddr{IP: addr.AsSlice(), Zone: addr.Zone()}
	if raw {
		dst = &net.IPAddr{IP: addr.AsSlice(), Zone: addr.Zone()}
	}
	if _, err := conn.WriteTo(wb, dst); err != nil {
		return err
	}
	rb := make([]byte, 1500)
	for {
		n, peer, err := conn.ReadFrom(rb)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return context.DeadlineExceeded
			}
			return err
		}
		m, err := icmp.ParseMessage(proto, rb[:n])
		if err != nil || m.Type != replyType {
			continue
		}
		echo, ok := m.Body.(*icmp.Echo)
		// Unprivileged sockets get the ID rewritten by the kernel and
		// see only their own replies; raw sockets see every reply, so
		// match the ID, the sequence, the payload and the sender.
		if !ok || echo.Seq != seq || !bytes.Equal(echo.Data, payload) {
			continue
		}
		if raw && (echo.ID != c.id || !samePeer(peer, addr)) {
			continue
		}
		return nil
	}
}

func samePeer(peer net.Addr, addr netip.Addr) bool {
	var ip net.IP
	switch p := peer.(type) {
	case *net.IPAddr:
		ip = p.IP
	case *net.UDPAddr:
		ip = p.IP
	}
	a, ok := netip.AddrFromSlice(ip)
	return ok && a.Unmap() == addr
}
