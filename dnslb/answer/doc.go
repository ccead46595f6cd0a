// Package answer is the query path: a Worker takes a query's bytes
// through the stages parse → admit → decide → sign → encode → account →
// limit (worker.go) and returns the reply's bytes. limit (rate limiting)
// sees every UDP reply, the memo's too, with the class and account name
// decide gave it (Plan.RateClass), and may drop it or send the minimal
// slip reply instead.
//
// decide (decide.go) makes a Plan from the generation, the question and
// the client: rcode and flags, the sections as the generation's own
// records with the policies' selections applied, the ECS scope, and the
// decision points (plan.go) — each choice another query for the same
// question could make differently, whose values are the decision key.
// encode (encode.go) is the one encoder: compression, truncation to the
// requester's size, the question's case, OPT with ECS and EDE.
//
// The memo (memo.go, memotable.go, negcache.go) holds encoded replies
// keyed by question, flags and decision key, and patches only what the
// encoder writes per query (ID, question case, ECS echo); how a datagram
// is read and a reply patched as bytes is package wire's. It is in this
// package, not one of its own, because it is a memo of decide and
// encode: it replays their decision points (Plan.replay) and reads the
// plan's fields, which stay unexported.
//
// Sockets, metrics, the query log and the rate-limit accounts are the
// caller's: the account and limit stages are interfaces (Account, Limit)
// the server implements.
package answer
