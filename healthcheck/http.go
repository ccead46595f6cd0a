package healthcheck

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// httpChecker sends one GET or HEAD request per probe over a fresh
// connection to the target address, whatever the Host header says.
type httpChecker struct {
	cfg    Config
	client *http.Client
	status []statusRange
	body   []byte
	re     *regexp.Regexp
	limit  int64
}

// dialKey carries the per-probe dial override through the request context.
type dialKey struct{}

// dialOverride sends connections for host (the URL's host:port) to addr.
type dialOverride struct{ host, addr string }

func newHTTPChecker(cfg Config) (*httpChecker, error) {
	c := &httpChecker{cfg: cfg, body: []byte(cfg.ExpectBody), limit: int64(cfg.BodyLimit) << 10}
	expect := cfg.ExpectStatus
	if len(expect) == 0 {
		expect = []string{"200-299"}
	}
	for _, s := range expect {
		r, err := parseStatusRange(s)
		if err != nil {
			return nil, err
		}
		c.status = append(c.status, r)
	}
	if cfg.ExpectBodyRegex != "" {
		re, err := regexp.Compile(cfg.ExpectBodyRegex)
		if err != nil {
			return nil, err
		}
		c.re = re
	}
	dialer := &net.Dialer{}
	tr := &http.Transport{
		// A probe must see the backend as a new client would, so no
		// connection is reused and no proxy is consulted.
		DisableKeepAlives: true,
		Proxy:             nil,
		TLSClientConfig: &tls.Config{
			ServerName:         tlsServerName(cfg),
			InsecureSkipVerify: cfg.InsecureSkipVerify,
			RootCAs:            cfg.RootCAs,
		},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if o, ok := ctx.Value(dialKey{}).(dialOverride); ok && o.host == addr {
				addr = o.addr
			}
			return dialer.DialContext(ctx, network, addr)
		},
		MaxResponseHeaderBytes: 64 << 10,
	}
	c.client = &http.Client{Transport: tr}
	if !cfg.FollowRedirects {
		c.client.CheckRedirect = func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}
	}
	return c, nil
}

// tlsServerName is the SNI and the name the certificate is verified
// against: sni, else the host header without a port. Empty means the
// transport uses the URL's host.
func tlsServerName(cfg Config) string {
	if cfg.SNI != "" {
		return cfg.SNI
	}
	if h, _, err := net.SplitHostPort(cfg.Host); err == nil {
		return h
	}
	return cfg.Host
}

// requestURL builds the URL for one probe and the address to dial for it.
func (c *httpChecker) requestURL(addr netip.Addr) (u *url.URL, dial string) {
	defPort := 80
	if c.cfg.Type == TypeHTTPS {
		defPort = 443
	}
	u = &url.URL{Scheme: c.cfg.Type, Path: c.cfg.Path}
	if strings.Contains(c.cfg.Target, "://") {
		t, _ := url.Parse(c.cfg.Target) // validated
		u = t
		dial = u.Host
		if u.Port() == "" {
			port := 80
			if u.Scheme == TypeHTTPS {
				port = 443
			}
			dial = net.JoinHostPort(u.Hostname(), strconv.Itoa(port))
		}
	} else {
		dial = dialTarget(c.cfg, addr, defPort)
	}
	if u.Path == "" {
		u.Path = "/"
	}
	u.Host = dial
	if c.cfg.Host != "" {
		u.Host = c.cfg.Host
		if _, _, err := net.SplitHostPort(c.cfg.Host); err != nil {
			_, port, _ := net.SplitHostPort(dial)
			u.Host = net.JoinHostPort(c.cfg.Host, port)
		}
	}
	return u, dial
}

func (c *httpChecker) Check(ctx context.Context, addr netip.Addr) Result {
	_, res := c.get(ctx, addr, false)
	return res
}

// get runs one probe. With readBody it returns the body (at most
// body_limit) of a response that passed, for the load check to parse.
func (c *httpChecker) get(ctx context.Context, addr netip.Addr, readBody bool) ([]byte, Result) {
	start := time.Now()
	u, dial := c.requestURL(addr)
	ctx = context.WithValue(ctx, dialKey{}, dialOverride{host: u.Host, addr: dial})
	method := c.cfg.Method
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return nil, fail(start, err.Error())
	}
	if c.cfg.Host != "" {
		req.Host = c.cfg.Host
	}
	for k, v := range c.cfg.Headers {
		if strings.EqualFold(k, "Host") {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	req.Header.Set("User-Agent", "dnslb-healthcheck")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fail(start, reason(err))
	}
	defer resp.Body.Close()
	if !c.statusOK(resp.StatusCode) {
		return nil, fail(start, "status "+strconv.Itoa(resp.StatusCode))
	}
	if c.re == nil && len(c.body) == 0 && !readBody {
		return nil, ok(start)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.limit))
	if err != nil {
		return nil, fail(start, reason(err))
	}
	if (c.re != nil && !c.re.Match(body)) || (c.re == nil && !bytes.Contains(body, c.body)) {
		return nil, fail(start, "body mismatch")
	}
	return body, ok(start)
}

func (c *httpChecker) statusOK(code int) bool {
	for _, r := range c.status {
		if code >= r.lo && code <= r.hi {
			return true
		}
	}
	return false
}
