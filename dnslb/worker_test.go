package dnslb

import (
	"net/netip"
	"time"

	"github.com/dnslb/dnslb/dnslb/answer"
)

// udpWorker is the answer path of one serving goroutine as the UDP loop
// of package serve runs it (the same stages as Run gives it), for tests
// that put packets through it without sockets.
type udpWorker struct {
	s      *Server
	ans    *answer.Worker
	outs   [][]byte // reply buffers, as the loop's slots
	tcpOut []byte
}

func newUDPWorker(s *Server) *udpWorker {
	w := &udpWorker{s: s, ans: answer.NewWorker(s.store, s.stages(), s.log)}
	for range 4 {
		w.outs = append(w.outs, make([]byte, 4096))
	}
	return w
}

// answer is the reply to the datagram pkt from client from, or nil.
func (w *udpWorker) answer(pkt []byte, from netip.AddrPort, buf []byte) []byte {
	return w.ans.Answer(pkt, from, buf, false, time.Now(), nil)
}

// tcpBuf is a buffer for one TCP reply.
func (w *udpWorker) tcpBuf() []byte {
	if w.tcpOut == nil {
		w.tcpOut = make([]byte, 65535)
	}
	return w.tcpOut
}
