#!/usr/bin/env bash
# Installs the Kage node agent on this node, as the inventory describes it:
#   the `kage` system user, /opt/kage (this checkout), /etc/kage/agent.yaml and its token (0600),
#   the polkit rule that lets `kage` start/stop/restart only ollama.service and exo.service, the
#   kage-agent unit (and its restart-backoff drop-in on systemd >= 254), then enables and starts it.
# Never touches Ollama. Idempotent: a second run changes nothing and says so.
#
# Usage: deploy/install-agent.sh --inventory FILE --node NAME [--dry-run] [--force] [--root DIR]
#   --dry-run  print every change, make none
#   --force    overwrite a unit or rule that was changed since it was installed
#   --root DIR stage every file under DIR instead of / (no user, no systemctl): for packaging and tests
set -euo pipefail
# shellcheck source=deploy/lib/install-common.sh
source "$(dirname "$0")/lib/install-common.sh"

usage() { die 64 "usage: $0 --inventory FILE --node NAME [--dry-run] [--force] [--root DIR]"; }
INVENTORY=""
NODE=""
while [ $# -gt 0 ]; do
  case "$1" in
    --inventory) INVENTORY="${2:-}"; shift 2 || usage ;;
    --node) NODE="${2:-}"; shift 2 || usage ;;
    --dry-run) DRY_RUN=1; shift ;;
    --force) FORCE=1; shift ;;
    --root) ROOT="${2:-}"; shift 2 || usage ;;
    -h | --help) sed -n '2,11p' "$0"; exit 0 ;;
    *) die 64 "unknown argument: $1 (see --help)" ;;
  esac
done
if [ -z "$INVENTORY" ] || [ -z "$NODE" ]; then usage; fi
[ -z "$ROOT" ] || [ -d "$ROOT" ] || die 64 "--root $ROOT is not a directory"
if [ -z "$ROOT" ] && [ "$DRY_RUN" = 0 ] && [ "$(id -u)" != 0 ]; then die 64 "run as root (or with --dry-run)"; fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
manifest="$(render_files "$INVENTORY" "$work/files" --node "$NODE")" || exit $?

log "Kage agent on $NODE (inventory $INVENTORY)$([ "$DRY_RUN" = 1 ] && echo ', dry run')"

# 1. The system user the agent runs as; no shell, no home to log in to.
if [ -z "$ROOT" ] && ! getent passwd kage >/dev/null; then
  change useradd --system --user-group --home-dir /var/lib/kage --no-create-home --shell /usr/sbin/nologin kage
fi

# 2. /opt/kage: this checkout (the units run /opt/kage/packages/cli/dist/src/bin.js).
if [ "$KAGE_CHECKOUT" != "$ROOT/opt/kage" ] && [ "$(readlink -f "$ROOT/opt/kage" 2>/dev/null || true)" != "$KAGE_CHECKOUT" ]; then
  [ ! -e "$ROOT/opt/kage" ] || [ -L "$ROOT/opt/kage" ] || die 65 "/opt/kage exists and is not this checkout; move it away first"
  if [ ! -d "$ROOT/opt" ]; then change install -d -m 0755 "$ROOT/opt"; fi
  change ln -sfn "$KAGE_CHECKOUT" "$ROOT/opt/kage"
else
  log "unchanged: /opt/kage -> $KAGE_CHECKOUT"
fi

# 3. Config and token, as rendered from the inventory (only the agent's files here).
if [ ! -d "$ROOT/etc/kage" ]; then change install -d -m 0750 "$ROOT/etc/kage"; fi
while read -r mode owner_group path; do
  case "$path" in
    /etc/kage/agent.yaml | /etc/kage/agent.token)
      install_file "$work/files$path" "$path" "$mode" "${owner_group%%:*}" "${owner_group##*:}" ;;
  esac
done <<<"$manifest"

# 4. polkit rule and units: guarded, they may have been edited by hand.
install_file "$KAGE_CHECKOUT/deploy/polkit/50-kage-agent.rules" /etc/polkit-1/rules.d/50-kage-agent.rules 0644 root root guarded
install_file "$KAGE_CHECKOUT/systemd/kage-agent.service" /etc/systemd/system/kage-agent.service 0644 root root guarded
if [ "$(systemd_version)" -ge 254 ]; then
  install_file "$KAGE_CHECKOUT/systemd/kage-agent.service.d/50-restart-backoff.conf" \
    /etc/systemd/system/kage-agent.service.d/50-restart-backoff.conf 0644 root root guarded
fi

# 5. Start it (not in a staged run). daemon-reload only when a unit changed.
if [ -z "$ROOT" ]; then
  if [ "$CHANGES" -gt 0 ]; then change systemctl daemon-reload; fi
  if ! systemctl is-enabled --quiet kage-agent 2>/dev/null; then change systemctl enable kage-agent; fi
  if [ "$CHANGES" -gt 0 ] && systemctl is-active --quiet kage-agent 2>/dev/null; then
    change systemctl restart kage-agent
  elif ! systemctl is-active --quiet kage-agent 2>/dev/null; then
    change systemctl start kage-agent
  fi
fi
summary "the Kage agent on $NODE"
