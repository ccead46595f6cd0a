#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null || true
fi
if [ "$1" = "purge" ]; then
  rm -rf /var/lib/dnslb /var/log/dnslb
  if getent passwd dnslb >/dev/null; then
    deluser --quiet --system dnslb >/dev/null || true
  fi
fi
