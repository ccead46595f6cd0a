// Package example holds the example configuration and zones that `dnslb`
// serves when it is started with no arguments.
package example

import "embed"

// FS holds dnslb.toml and zones/*.zone.
//
//go:embed dnslb.toml zones/*.zone
var FS embed.FS
