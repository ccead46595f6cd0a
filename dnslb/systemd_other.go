//go:build !linux

package dnslb

// monotonicUsec: systemd runs on Linux only.
func monotonicUsec() (int64, bool) { return 0, false }
