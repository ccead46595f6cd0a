package dnslb

import (
	"log/slog"
	"sync"

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
