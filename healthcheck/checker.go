package healthcheck

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"time"
)

// Checker probes one kind of backend. Check must return by the time ctx is
// done; the scheduler gives each call a context with the check's timeout.
type Checker interface {
	Check(ctx context.Context, addr netip.Addr) Result
}

// Result is the outcome of one probe.
type Result struct {
	OK bool
	// Reason says briefly why the probe failed ("timeout", "status 503",
	// "body mismatch", "connection refused"); "ok" on success.
	Reason  string
	Latency time.Duration
	// Report is what a load check's backend said (Kind NoReport for other
	// checks and failed probes).
	Report Report
}

// NewChecker validates cfg and builds the checker for its type. For icmp
// it also fails, with the error of ICMPAvailable, when this host allows
// neither unprivileged nor raw ICMP sockets.
func NewChecker(cfg Config) (Checker, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	switch cfg.Type {
	case TypeTCP:
		return newTCPChecker(cfg), nil
	case TypeHTTP, TypeHTTPS:
		return newHTTPChecker(cfg)
	case TypeICMP:
		return newICMPChecker(cfg)
	case TypeDNS:
		return newDNSChecker(cfg), nil
	case TypeLoad:
		return newLoadChecker(cfg)
	}
	return nil, fmt.Errorf("type %q is not one of %s", cfg.Type, typeNames)
}

// dialTarget returns the "host:port" a checker connects to: cfg.Target if
// set, else addr with the configured or default port.
func dialTarget(cfg Config, addr netip.Addr, defaultPort int) string {
	if cfg.Target != "" {
		return cfg.Target
	}
	port := cfg.Port
	if port == 0 {
		port = defaultPort
	}
	return net.JoinHostPort(addr.String(), strconv.Itoa(port))
}

func ok(start time.Time) Result {
	return Result{OK: true, Reason: "ok", Latency: time.Since(start)}
}

func fail(start time.Time, reason string) Result {
	return Result{Reason: reason, Latency: time.Since(start)}
}

// reason turns a probe error into a short, stable reason. Timeouts and the
// common socket errors get fixed words so that logs and status pages stay
// readable and comparable; anything else keeps its own text.
func reason(err error) string {
	var (
		netErr  net.Error
		certErr *tls.CertificateVerificationError
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
	)
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "host unreachable"
	case errors.Is(err, syscall.ENETUNREACH):
		return "network unreachable"
	case errors.As(err, &unknown):
		return "certificate signed by unknown authority"
	case errors.As(err, &host):
		return "certificate not valid for " + host.Host
	case errors.As(err, &certErr):
		return "certificate: " + certErr.Err.Error()
	case errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	}
	return err.Error()
}
