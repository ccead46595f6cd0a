package cluster

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// transport is memberlist's NetTransport with two additions: it counts
// the bytes gossip sends and receives (packets and streams), and it can
// drop all traffic with chosen peers (SetDrop), which is how tests cut a
// node off from the others without network namespaces.
type transport struct {
	*memberlist.NetTransport
	c       *Cluster
	packets chan *memberlist.Packet
	streams chan net.Conn
	ctx     context.Context // done at Shutdown: the forwarders stop, dials end
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

func newTransport(c *Cluster, nt *memberlist.NetTransport) *transport {
	t := &transport{NetTransport: nt, c: c, packets: make(chan *memberlist.Packet), streams: make(chan net.Conn)}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	t.wg.Add(2)
	go t.forwardPackets()
	go t.forwardStreams()
	return t
}

// dropped reports whether traffic with the peer at addr ("ip:port", or a
// net.Addr's string) is to be dropped.
func (t *transport) dropped(addr string) bool {
	f := t.c.drop.Load()
	if f == nil {
		return false
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return false
	}
	return (*f)(ap.Addr().Unmap())
}

func (t *transport) forwardPackets() {
	defer t.wg.Done()
	in := t.NetTransport.PacketCh()
	for {
		select {
		case <-t.ctx.Done():
			return
		case p := <-in:
			if t.dropped(p.From.String()) {
				continue
			}
			t.c.bytesIn.Add(uint64(len(p.Buf)))
			select {
			case t.packets <- p:
			case <-t.ctx.Done():
				return
			}
		}
	}
}

func (t *transport) forwardStreams() {
	defer t.wg.Done()
	in := t.NetTransport.StreamCh()
	for {
		select {
		case <-t.ctx.Done():
			return
		case conn := <-in:
			if t.dropped(conn.RemoteAddr().String()) {
				_ = conn.Close()
				continue
			}
			select {
			case t.streams <- &countingConn{Conn: conn, c: t.c}:
			case <-t.ctx.Done():
				_ = conn.Close()
				return
			}
		}
	}
}

func (t *transport) PacketCh() <-chan *memberlist.Packet { return t.packets }
func (t *transport) StreamCh() <-chan net.Conn           { return t.streams }

func (t *transport) WriteTo(b []byte, addr string) (time.Time, error) {
	if t.dropped(addr) {
		return time.Now(), nil // lost on the way, as UDP may be
	}
	t.c.bytesOut.Add(uint64(len(b)))
	return t.NetTransport.WriteTo(b, addr)
}

func (t *transport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	return t.WriteTo(b, a.Addr)
}

func (t *transport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	if t.dropped(addr) {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errDropped}
	}
	// NetTransport's dial, but ended by Shutdown: a join to an unreachable
	// member (rejoin) must not hold Run's end for the TCP timeout.
	ctx, cancel := context.WithTimeout(t.ctx, timeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: conn, c: t.c}, nil
}

func (t *transport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	return t.DialTimeout(a.Addr, timeout)
}

func (t *transport) Shutdown() error {
	err := t.NetTransport.Shutdown()
	t.cancel()
	t.wg.Wait()
	return err
}

type dropError struct{}

func (dropError) Error() string { return "dropped by SetDrop" }

var errDropped = dropError{}

// countingConn counts a gossip stream's bytes.
type countingConn struct {
	net.Conn
	c *Cluster
}

func (cc *countingConn) Read(b []byte) (int, error) {
	n, err := cc.Conn.Read(b)
	cc.c.bytesIn.Add(uint64(n))
	return n, err
}

func (cc *countingConn) Write(b []byte) (int, error) {
	n, err := cc.Conn.Write(b)
	cc.c.bytesOut.Add(uint64(n))
	return n, err
}
