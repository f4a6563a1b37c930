#!/usr/bin/env bash
# Removes Kage and EXO from this node and leaves Ollama as it was: stops and disables the Kage and
# EXO units, removes their unit files and drop-ins, the polkit rule, /etc/kage, /opt/kage, /opt/exo (EXO's
# checkout and venv), their state under /var/lib and the `kage` and `exo` users. Ollama's unit,
# files and models are never touched; its health (GET / answering "Ollama is running") is checked
# before and after, and a rollback that found Ollama healthy and left it unhealthy exits 1.
# Idempotent: a second run finds nothing to remove and says so.
#
# Usage: deploy/rollback.sh --inventory FILE --node NAME [--dry-run] [--root DIR]
#   --dry-run  print every change, make none
#   --root DIR remove what a staged install put under DIR (no users, no systemctl, no health check)
set -euo pipefail
# shellcheck source=deploy/lib/install-common.sh
source "$(dirname "$0")/lib/install-common.sh"

usage() { die 64 "usage: $0 --inventory FILE --node NAME [--dry-run] [--root DIR]"; }
INVENTORY=""
NODE=""
while [ $# -gt 0 ]; do
  case "$1" in
    --inventory) INVENTORY="${2:-}"; shift 2 || usage ;;
    --node) NODE="${2:-}"; shift 2 || usage ;;
    --dry-run) DRY_RUN=1; shift ;;
    --root) ROOT="${2:-}"; shift 2 || usage ;;
    -h | --help) sed -n '2,12p' "$0"; exit 0 ;;
    *) die 64 "unknown argument: $1 (see --help)" ;;
  esac
done
if [ -z "$INVENTORY" ] || [ -z "$NODE" ]; then usage; fi
check_run_context

# The inventory must name this node: a rollback on the wrong machine is refused, not guessed at.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
render_files "$INVENTORY" "$work/files" --node "$NODE" >/dev/null || exit $?

OLLAMA_URL="http://127.0.0.1:11434/"
ollama_healthy() {
  local body
  if command -v curl >/dev/null 2>&1; then
    body="$(curl -fsS --max-time 5 "$OLLAMA_URL" 2>/dev/null)" || return 1
  else
    body="$(node -e 'fetch(process.argv[1], { signal: AbortSignal.timeout(5000) }).then(async (r) => {
      if (!r.ok) process.exit(1); process.stdout.write(await r.text()); }, () => process.exit(1))' "$OLLAMA_URL")" || return 1
  fi
  [ "$body" = "Ollama is running" ]
}

before="skipped"
if [ -z "$ROOT" ]; then
  if ollama_healthy; then before="healthy"; else before="not answering"; fi
  log "Ollama before: $before ($OLLAMA_URL)"
fi
log "rolling back Kage and EXO on $NODE$([ "$DRY_RUN" = 1 ] && echo ' (dry run)')"

# 1. Units: stopped and disabled first, so nothing restarts what is being removed.
if [ -z "$ROOT" ] && command -v systemctl >/dev/null 2>&1; then
  for unit in kage-agent.service kage-coordinator.service exo.service; do
    if systemctl is-active --quiet "$unit" 2>/dev/null || systemctl is-enabled --quiet "$unit" 2>/dev/null; then
      change systemctl disable --now "$unit"
    fi
  done
fi

# 2. Files and directories Kage and EXO own. /opt/kage is removed only as the link the installer made.
for path in \
  /etc/systemd/system/kage-agent.service \
  /etc/systemd/system/kage-agent.service.d \
  /etc/systemd/system/kage-coordinator.service \
  /etc/systemd/system/kage-coordinator.service.d \
  /etc/systemd/system/exo.service \
  /etc/systemd/system/exo.service.d \
  /etc/polkit-1/rules.d/50-kage-agent.rules \
  /etc/kage \
  /opt/exo \
  /var/lib/kage \
  /var/lib/exo; do
  if [ -e "$ROOT$path" ] || [ -L "$ROOT$path" ]; then change rm -rf "$ROOT$path"; fi
done
if [ -L "$ROOT/opt/kage" ]; then
  change rm -f "$ROOT/opt/kage"
elif [ -e "$ROOT/opt/kage" ]; then
  log "left alone: /opt/kage is a directory, not the link the installer makes; remove it yourself"
fi

# 3. Users, then systemd's view of the units.
if [ -z "$ROOT" ]; then
  for user in kage exo; do
    if getent passwd "$user" >/dev/null; then change userdel "$user"; fi
  done
  if [ "$CHANGES" -gt 0 ] && command -v systemctl >/dev/null 2>&1; then change systemctl daemon-reload; fi
fi

if [ "$CHANGES" = 0 ]; then
  log "nothing to remove: no Kage or EXO left on $NODE"
elif [ "$DRY_RUN" = 1 ]; then
  log "$CHANGES change(s) planned on $NODE (dry run: nothing was changed)"
else
  log "$CHANGES change(s) made on $NODE"
fi

# 4. Ollama after: it must answer as it did before.
if [ -z "$ROOT" ]; then
  if ollama_healthy; then after="healthy"; else after="not answering"; fi
  log "Ollama after: $after ($OLLAMA_URL)"
  if [ "$before" = "healthy" ] && [ "$after" != "healthy" ]; then
    die 1 "Ollama answered before the rollback and does not now: check journalctl -u ollama"
  fi
fi
