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
check_run_context

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
manifest="$(render_files "$INVENTORY" "$work/files" --coordinator)" || exit $?

log "Kage coordinator (inventory $INVENTORY)$([ "$DRY_RUN" = 1 ] && echo ', dry run')"

ensure_system_user kage /var/lib/kage
link_checkout
install_rendered "$manifest" "$work/files" /etc/kage/coordinator.yaml /etc/kage/agent-tokens.yaml /etc/kage/api.token
install_file "$KAGE_CHECKOUT/systemd/kage-coordinator.service" /etc/systemd/system/kage-coordinator.service 0644 root root guarded

start_unit kage-coordinator
summary "the Kage coordinator"
