#!/usr/bin/env bash
# Installs EXO from source at the inventory's tag (v1.0.71 by default) on this node and runs it as
# exo.service: the `exo` system user, /opt/exo (a clone at the tag, or --source DIR), its dashboard
# build (npm), its venv (`uv sync --extra cpu`, Python 3.13), /etc/kage/exo.env with the node's
# flags (fixed libp2p port, the other nodes as bootstrap peers) and the unit. `pip install exo` is
# an unrelated package and is never used. Idempotent: a second run changes nothing and says so.
#
# Usage: deploy/install-exo.sh --inventory FILE --node NAME [--source DIR] [--dry-run] [--force] [--root DIR]
#   --source DIR  install from a local checkout of EXO instead of cloning (no network for the source)
#   --dry-run     print every change, make none
#   --force       replace /opt/exo at another version, or an exo unit edited by hand
#   --root DIR    stage the files under DIR (no clone, no build, no user, no systemctl)
set -euo pipefail
# shellcheck source=deploy/lib/install-common.sh
source "$(dirname "$0")/lib/install-common.sh"

EXO_REPO="https://github.com/exo-explore/exo"
usage() { die 64 "usage: $0 --inventory FILE --node NAME [--source DIR] [--dry-run] [--force] [--root DIR]"; }
INVENTORY=""
NODE=""
SOURCE=""
while [ $# -gt 0 ]; do
  case "$1" in
    --inventory) INVENTORY="${2:-}"; shift 2 || usage ;;
    --node) NODE="${2:-}"; shift 2 || usage ;;
    --source) SOURCE="${2:-}"; shift 2 || usage ;;
    --dry-run) DRY_RUN=1; shift ;;
    --force) FORCE=1; shift ;;
    --root) ROOT="${2:-}"; shift 2 || usage ;;
    -h | --help) sed -n '2,13p' "$0"; exit 0 ;;
    *) die 64 "unknown argument: $1 (see --help)" ;;
  esac
done
if [ -z "$INVENTORY" ] || [ -z "$NODE" ]; then usage; fi
[ -z "$SOURCE" ] || [ -f "$SOURCE/pyproject.toml" ] || die 64 "--source $SOURCE is not an EXO checkout (no pyproject.toml)"
check_run_context

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
manifest="$(render_files "$INVENTORY" "$work/files" --node "$NODE")" || exit $?
grep -q ' /etc/kage/exo.env$' <<<"$manifest" || die 64 "node $NODE runs no EXO (exo: false in $INVENTORY)"
launch="$(node "$KAGE_BIN" exo config --inventory "$INVENTORY" --node "$NODE" --format json)" || exit $?
VERSION="$(node -e 'process.stdout.write(JSON.parse(process.argv[1]).version)' "$launch")"
EXTRA="$(node -e 'process.stdout.write(JSON.parse(process.argv[1]).extra)' "$launch")"

log "EXO $VERSION on $NODE (inventory $INVENTORY)$([ "$DRY_RUN" = 1 ] && echo ', dry run')"

# 1. The source at the pinned tag. An /opt/exo at another version is only replaced with --force.
EXO_DIR="$ROOT/opt/exo"
installed_version() { git -C "$EXO_DIR" describe --tags --exact-match 2>/dev/null || echo unknown; }
fetch_source=1
if [ -d "$EXO_DIR" ]; then
  have="$(installed_version)"
  if [ -n "$SOURCE" ] || [ "$have" = "$VERSION" ]; then
    log "unchanged: /opt/exo ($have)"
    fetch_source=0
  elif [ "$FORCE" = 1 ]; then
    change rm -rf "$EXO_DIR"
  else
    die 65 "/opt/exo holds EXO $have, not $VERSION; rerun with --force to replace it"
  fi
fi
if [ "$fetch_source" = 1 ]; then
  if [ ! -d "$ROOT/opt" ]; then change install -d -m 0755 "$ROOT/opt"; fi
  if [ -n "$SOURCE" ]; then
    change cp -a "$SOURCE/." "$EXO_DIR"
  elif [ -n "$ROOT" ]; then
    log "staged run: /opt/exo is not cloned (it would be $EXO_REPO at $VERSION)"
  else
    need git "to fetch EXO's source"
    change git clone --branch "$VERSION" --depth 1 "$EXO_REPO" "$EXO_DIR"
  fi
fi

# 2. Build: the dashboard (EXO refuses to start without it) and the venv with the MLX backend.
if [ -z "$ROOT" ]; then
  need uv "EXO 1.x installs with uv (https://docs.astral.sh/uv/)"
  need npm "EXO's dashboard is built with Node.js and npm"
  if [ ! -f "$EXO_DIR/dashboard/build/index.html" ]; then
    change bash -c "cd '$EXO_DIR/dashboard' && npm install --no-audit --no-fund && npm run build"
  else
    log "unchanged: the dashboard build"
  fi
  if [ ! -x "$EXO_DIR/.venv/bin/exo" ]; then
    change bash -c "cd '$EXO_DIR' && uv sync --extra '$EXTRA'"
  else
    log "unchanged: /opt/exo/.venv"
  fi
  ensure_system_user exo /var/lib/exo
fi

# 3. The node's flags and the unit.
# /etc/kage: the agent's installer later gives it to the kage group; root alone reads exo.env.
if [ ! -d "$ROOT/etc/kage" ]; then change install -d -m 0750 "$ROOT/etc/kage"; fi
install_file "$work/files/etc/kage/exo.env" /etc/kage/exo.env 0644 root root
install_file "$work/files/etc/systemd/system/exo.service" /etc/systemd/system/exo.service 0644 root root guarded

start_unit exo
summary "EXO $VERSION on $NODE"
