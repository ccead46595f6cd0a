package dnslb

import (
	"fmt"
	"net"
	"strings"
	"time"
)

// The service manager protocol of sd_notify(3), without libsystemd: each
// notification is one datagram of newline-separated VAR=value lines to
// the unix socket in $NOTIFY_SOCKET. dnslb sends READY=1 once every
// listener is open, RELOADING=1 (with MONOTONIC_USEC=, which systemd 253
// and later want) and READY=1 around each reload, STATUS= with the last
// reload's result, and STOPPING=1 at shutdown. Under Type=notify systemd
// then holds "systemctl start" until the server answers, and "systemctl
// status" shows the last reload's result.

// SetNotifySocket makes the server send its state to the service manager
// at path ($NOTIFY_SOCKET; a leading '@' names a socket in Linux's
// abstract namespace, which Go's net package maps). Empty: no
// notifications. Call it before Run.
func (s *Server) SetNotifySocket(path string) {
	if path == "" {
		s.sdAddr = nil
		return
	}
	s.sdAddr = &net.UnixAddr{Name: path, Net: "unixgram"}
}

// sdNotify sends lines as one notification. A failure is logged once at
// warn level: the service manager then times the start out, and the log
// says why.
func (s *Server) sdNotify(lines ...string) {
	if s.sdAddr == nil {
		return
	}
	err := sendNotify(s.sdAddr, strings.Join(lines, "\n")+"\n")
	if err != nil && s.sdFailed.CompareAndSwap(false, true) {
		s.log.Warn("cannot notify the service manager", "file", s.sdAddr.Name, "err", err)
	}
}

func sendNotify(addr *net.UnixAddr, msg string) error {
	c, err := net.DialUnix("unixgram", nil, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetWriteDeadline(time.Now().Add(time.Second)); err != nil {
		return err
	}
	_, err = c.Write([]byte(msg))
	return err
}

// sdReloading is the notification that a reload starts.
func (s *Server) sdReloading(trigger string) {
	lines := []string{"RELOADING=1"}
	if us, ok := monotonicUsec(); ok {
		lines = append(lines, fmt.Sprintf("MONOTONIC_USEC=%d", us))
	}
	s.sdNotify(append(lines, "STATUS=reloading ("+trigger+")")...)
}

// sdStatus is the STATUS= text: the last reload's result, one line.
func (s *Server) sdStatus() string {
	r := s.lastReloadStatus()
	when := r.Time.Format("2006-01-02 15:04:05")
	switch {
	case r.OK:
		return fmt.Sprintf("serving; last reload ok at %s (%s)", when, r.Trigger)
	case len(r.Errors) == 1:
		return fmt.Sprintf("serving the previous state; reload failed at %s (%s): %s", when, r.Trigger, r.Errors[0])
	default:
		return fmt.Sprintf("serving the previous state; reload failed at %s (%s) with %d errors, the first: %s", when, r.Trigger, len(r.Errors), r.Errors[0])
	}
}
