#!/usr/bin/env bash
# Installs the Kage coordinator on the inventory's coordinator node:
#   the `kage` system user, /opt/kage (this checkout), /etc/kage/coordinator.yaml, the agents'
#   token list and the API token (0600), the kage-coordinator unit, then enables and starts it.
#   Its database lives in /var/lib/kage (the unit's StateDirectory).
# Never touches Ollama. Idempotent: a second run changes nothing and says so.
#
# Usage: deploy/install-coordinator.sh --inventory FILE [--dry-run] [--force] [--root DIR]
#   --dry-run  print every change, make none
#   --force    overwrite a unit that was changed since it was installed
#   --root DIR stage every file under DIR instead of / (no user, no systemctl): for packaging and tests
set -euo pipefail
# shellcheck source=deploy/lib/install-common.sh
source "$(dirname "$0")/lib/install-common.sh"

usage() { die 64 "usage: $0 --inventory FILE [--dry-run] [--force] [--root DIR]"; }
INVENTORY=""
while [ $# -gt 0 ]; do
  case "$1" in
    --inventory) INVENTORY="${2:-}"; shift 2 || usage ;;
    --dry-run) DRY_RUN=1; shift ;;
    --force) FORCE=1; shift ;;
    --root) ROOT="${2:-}"; shift 2 || usage ;;
    -h | --help) sed -n '2,11p' "$0"; exit 0 ;;
    *) die 64 "unknown argument: $1 (see --help)" ;;
  esac
done
if [ -z "$INVENTORY" ]; then usage; fi
[ -z "$ROOT" ] || [ -d "$ROOT" ] || die 64 "--root $ROOT is not a directory"
if [ -z "$ROOT" ] && [ "$DRY_RUN" = 0 ] && [ "$(id -u)" != 0 ]; then die 64 "run as root (or with --dry-run)"; fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
manifest="$(render_files "$INVENTORY" "$work/files" --coordinator)" || exit $?

log "Kage coordinator (inventory $INVENTORY)$([ "$DRY_RUN" = 1 ] && echo ', dry run')"

if [ -z "$ROOT" ] && ! getent passwd kage >/dev/null; then
  change useradd --system --user-group --home-dir /var/lib/kage --no-create-home --shell /usr/sbin/nologin kage
fi
if [ "$KAGE_CHECKOUT" != "$ROOT/opt/kage" ] && [ "$(readlink -f "$ROOT/opt/kage" 2>/dev/null || true)" != "$KAGE_CHECKOUT" ]; then
  [ ! -e "$ROOT/opt/kage" ] || [ -L "$ROOT/opt/kage" ] || die 65 "/opt/kage exists and is not this checkout; move it away first"
  if [ ! -d "$ROOT/opt" ]; then change install -d -m 0755 "$ROOT/opt"; fi
  change ln -sfn "$KAGE_CHECKOUT" "$ROOT/opt/kage"
else
  log "unchanged: /opt/kage -> $KAGE_CHECKOUT"
fi

if [ ! -d "$ROOT/etc/kage" ]; then change install -d -m 0750 "$ROOT/etc/kage"; fi
while read -r mode owner_group path; do
  case "$path" in
    /etc/kage/coordinator.yaml | /etc/kage/agent-tokens.yaml | /etc/kage/api.token)
      install_file "$work/files$path" "$path" "$mode" "${owner_group%%:*}" "${owner_group##*:}" ;;
  esac
done <<<"$manifest"
install_file "$KAGE_CHECKOUT/systemd/kage-coordinator.service" /etc/systemd/system/kage-coordinator.service 0644 root root guarded

if [ -z "$ROOT" ]; then
  if [ "$CHANGES" -gt 0 ]; then change systemctl daemon-reload; fi
  if ! systemctl is-enabled --quiet kage-coordinator 2>/dev/null; then change systemctl enable kage-coordinator; fi
  if [ "$CHANGES" -gt 0 ] && systemctl is-active --quiet kage-coordinator 2>/dev/null; then
    change systemctl restart kage-coordinator
  elif ! systemctl is-active --quiet kage-coordinator 2>/dev/null; then
    change systemctl start kage-coordinator
  fi
fi
summary "the Kage coordinator"
