package dnslb

import (
	"log/slog"
	"sync"

	"github.com/dnslb/dnslb/dnslb/answer"
	"github.com/dnslb/dnslb/dnslb/config"
	"github.com/dnslb/dnslb/dnslb/cookie"
)

// cookieSecrets keeps the cookie stage's checker in step with [cookies]:
// the configured secrets, or one random secret for the life of the
// process (kept across reloads, so that clients' cookies stay good).
type cookieSecrets struct {
	mu      sync.Mutex
	checker *cookie.Checker
	random  *cookie.Secret // made when first needed
	shared  bool           // the secret in use is configured
}

// apply sets the secrets from c (New and every reload, from apply).
func (k *cookieSecrets) apply(c config.CookiesConfig, log *slog.Logger) {
	k.mu.Lock()
	defer k.mu.Unlock()
	cur, prev, ok := c.Secrets()
	if !ok {
		if k.random == nil {
			r := cookie.RandomSecret()
			k.random = &r
		}
		cur = *k.random
	}
	if c.On() && !ok && (k.checker == nil || k.shared) {
		log.Warn("cookies: no secret configured, using a random one for this process; servers that share an address need a shared cookies.secret_file")
	}
	k.shared = ok
	if k.checker == nil {
		k.checker = cookie.NewChecker(cur, prev, nil)
		return
	}
	k.checker.SetSecrets(cur, prev)
}

// stages are the query path's hooks the serving workers run: TSIG,
// cookies (when [cookies] is on) and the account stage.
func (s *Server) stages() answer.Stages {
	st := answer.Stages{TSIG: s.xfer, Account: s, Limit: s, Sign: s.sign}
	s.reloadMu.Lock()
	on := s.cfg.Cookies.On()
	s.reloadMu.Unlock()
	if on {
		st.Cookies = s.cookieStage()
	}
	return st
}

// cookieStage is the answer path's cookie stage over the server's
// secrets, counting into dnslb_cookies_total.
func (s *Server) cookieStage() *answer.Cookies {
	s.cookies.mu.Lock()
	defer s.cookies.mu.Unlock()
	st := &answer.Cookies{Checker: s.cookies.checker}
	for r := range cookie.NumResults {
		st.Seen[r] = s.metrics.CookieCounter(r.String())
	}
	return st
}
