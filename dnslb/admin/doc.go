// Package admin is the operators' HTTP listener: the status page, the
// JSON API (status, overrides, reload, explain), /metrics, /healthz and
// /readyz, with a token when it listens beyond loopback.
//
// It serves a Backend (the running server, or a fake in tests) and the
// Status value it builds; what an override or a reload does is the
// backend's. It knows nothing of DNS messages or sockets.
package admin
