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
check_run_context

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
manifest="$(render_files "$INVENTORY" "$work/files" --node "$NODE")" || exit $?

log "Kage agent on $NODE (inventory $INVENTORY)$([ "$DRY_RUN" = 1 ] && echo ', dry run')"

# 1. The system user the agent runs as, and /opt/kage.
ensure_system_user kage /var/lib/kage
link_checkout

# 2. Config and token, as rendered from the inventory (only the agent's files here).
install_rendered "$manifest" "$work/files" /etc/kage/agent.yaml /etc/kage/agent.token

# 3. polkit rule and units: guarded, they may have been edited by hand.
install_file "$KAGE_CHECKOUT/deploy/polkit/50-kage-agent.rules" /etc/polkit-1/rules.d/50-kage-agent.rules 0644 root root guarded
install_file "$KAGE_CHECKOUT/systemd/kage-agent.service" /etc/systemd/system/kage-agent.service 0644 root root guarded
if [ "$(systemd_version)" -ge 254 ]; then
  install_file "$KAGE_CHECKOUT/systemd/kage-agent.service.d/50-restart-backoff.conf" \
    /etc/systemd/system/kage-agent.service.d/50-restart-backoff.conf 0644 root root guarded
fi

# 4. Start it (not in a staged run).
start_unit kage-agent
summary "the Kage agent on $NODE"

# 5. Can this node reach the coordinator? Not a failure: the agent retries and buffers its samples
# on disk until it can, so the nodes may be installed in any order.
coordinator="$(sed -n 's/^  url: *//p' "$work/files/etc/kage/agent.yaml" | head -n 1)"
if [ -z "$ROOT" ] && [ "$DRY_RUN" = 0 ] && [ -n "$coordinator" ]; then
  # shellcheck disable=SC2016 # $1 and $2 are expanded by the inner bash, from the arguments
  if timeout 5 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "${coordinator%:*}" "${coordinator##*:}" 2>/dev/null; then
    log "coordinator $coordinator: reachable"
  else
    log "warning: coordinator $coordinator does not answer yet; the agent keeps retrying and buffers its samples (journalctl -u kage-agent)"
  fi
fi
