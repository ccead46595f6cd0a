#!/bin/sh
# The system user the service runs as (no login, no home but its state).
set -e
if ! getent passwd dnslb >/dev/null; then
  adduser --system --group --no-create-home --home /var/lib/dnslb --quiet dnslb
fi
install -d -o dnslb -g dnslb -m 0750 /var/lib/dnslb /var/log/dnslb
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null || true
fi
