# shellcheck shell=bash
# Shared by the deploy scripts (sourced, not run). Conventions:
#   - every change goes through `change` or `install_file`, which print it; with DRY_RUN=1 they
#     print "would …" and change nothing;
#   - ROOT (default empty) prefixes every path written, so a run can be staged in a directory;
#     with ROOT set, nothing outside it is touched (no users, no systemctl);
#   - a second run with the same inventory changes nothing and says so.
# Exit codes: 0 done (or nothing to do), 64 bad usage, 65 a file would be overwritten (--force),
# 69 a needed tool is missing, 78 a bad inventory (from kage), 1 anything else.

KAGE_CHECKOUT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
KAGE_BIN="${KAGE_BIN:-$KAGE_CHECKOUT/packages/cli/dist/src/bin.js}"
DRY_RUN=0
FORCE=0
ROOT=""
CHANGES=0

log() { printf '%s\n' "$*"; }
die() {
  local code="$1"
  shift
  printf '%s: %s\n' "$(basename "$0")" "$*" >&2
  exit "$code"
}

# A dry run reports a missing tool and goes on, so that it shows the whole plan.
need() {
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "$DRY_RUN" = 1 ]; then
    log "missing: $1 is not installed ($2); the real run stops here (exit 69)"
    return 0
  fi
  die 69 "$1 is not installed ($2)"
}

# Runs a command that changes the system, or prints it under --dry-run.
change() {
  CHANGES=$((CHANGES + 1))
  if [ "$DRY_RUN" = 1 ]; then
    log "would run: $*"
  else
    log "run: $*"
    "$@"
  fi
}

# install_file SOURCE TARGET MODE OWNER GROUP [guarded]
# Copies SOURCE to ROOT/TARGET when it is missing or differs. A guarded file (a unit, the polkit
# rule) may have been edited by hand: it is replaced without --force only when it is still exactly
# what an earlier run installed (its sha256 is kept in /etc/kage/.installed), i.e. when only the
# shipped version changed, as in an upgrade.
install_file() {
  local src="$1" target="$ROOT$2" mode="$3" owner="$4" group="$5" guarded="${6:-}"
  local record
  record="$ROOT/etc/kage/.installed/$(printf '%s' "$2" | tr '/' '_').sha256"
  if [ -f "$target" ] && cmp -s "$src" "$target" && [ "$(stat -c %a "$target")" = "${mode#0}" ]; then
    log "unchanged: $2"
    if [ -n "$guarded" ] && [ "$DRY_RUN" = 0 ] && [ ! -f "$record" ]; then remember_installed "$src" "$record"; fi
    return 0
  fi
  local what="new"
  if [ -n "$guarded" ] && [ -f "$target" ] && ! cmp -s "$src" "$target" && [ "$FORCE" != 1 ]; then
    if [ -f "$record" ] && [ "$(sha256sum <"$target" | cut -d' ' -f1)" = "$(cat "$record")" ]; then
      what="upgraded: untouched since installed"
    else
      log "differs from what this installer writes: $2"
      diff -u "$target" "$src" | sed 's/^/  /' || true
      die 65 "$2 was changed since it was installed (by hand?); rerun with --force to overwrite it"
    fi
  elif [ -f "$target" ]; then
    what="changed"
  fi
  CHANGES=$((CHANGES + 1))
  if [ "$DRY_RUN" = 1 ]; then
    log "would install ($what): $2 (mode $mode, $owner:$group)"
    return 0
  fi
  # Only a missing parent is made: `install -d` would also reset the mode of an existing one.
  [ -d "$(dirname "$target")" ] || install -d -m 0755 "$(dirname "$target")"
  install -m "$mode" "$src" "$target"
  # Staged runs (ROOT set) have no kage or exo user to hand files to.
  if [ -z "$ROOT" ]; then chown "$owner:$group" "$target"; fi
  if [ -n "$guarded" ]; then remember_installed "$src" "$record"; fi
  log "installed ($what): $2"
}

# remember_installed SOURCE RECORD: the sha256 of what was installed, for the next run's check.
remember_installed() {
  [ -d "$(dirname "$2")" ] || install -d -m 0755 "$(dirname "$2")"
  sha256sum <"$1" | cut -d' ' -f1 >"$2"
}

# The systemd version of this machine (249, 252, …); 0 when there is no systemctl.
systemd_version() {
  if command -v systemctl >/dev/null 2>&1; then
    systemctl --version | awk 'NR == 1 { print $2 + 0 }'
  else
    echo 0
  fi
}

# After the flags are read: --root must exist, and a real run needs root.
check_run_context() {
  [ -z "$ROOT" ] || [ -d "$ROOT" ] || die 64 "--root $ROOT is not a directory"
  if [ -z "$ROOT" ] && [ "$DRY_RUN" = 0 ] && [ "$(id -u)" != 0 ]; then die 64 "run as root (or with --dry-run)"; fi
}

# ensure_system_user NAME HOME: a system user and group to run a unit as; no shell, no home made.
ensure_system_user() {
  if [ -z "$ROOT" ] && ! getent passwd "$1" >/dev/null; then
    change useradd --system --user-group --home-dir "$2" --no-create-home --shell /usr/sbin/nologin "$1"
  fi
}

# /opt/kage: a link to this checkout (the units run /opt/kage/packages/cli/dist/src/bin.js).
link_checkout() {
  # The units run with ProtectHome= and PrivateTmp=: a checkout under /home, /root or a temporary
  # directory is invisible to them, and the agent would die with "Cannot find module".
  case "$KAGE_CHECKOUT/" in
    /home/* | /root/* | /run/user/* | /tmp/* | /var/tmp/*)
      local why="$KAGE_CHECKOUT is hidden from the Kage units (ProtectHome=, PrivateTmp=); clone Kage to a system path such as /srv/kage"
      if [ -n "$ROOT" ]; then
        :
      elif [ "$DRY_RUN" = 1 ]; then
        log "problem: $why; the real run stops here (exit 64)"
      else
        die 64 "$why"
      fi
      ;;
  esac
  if [ "$KAGE_CHECKOUT" != "$ROOT/opt/kage" ] && [ "$(readlink -f "$ROOT/opt/kage" 2>/dev/null || true)" != "$KAGE_CHECKOUT" ]; then
    [ ! -e "$ROOT/opt/kage" ] || [ -L "$ROOT/opt/kage" ] || die 65 "/opt/kage exists and is not this checkout; move it away first"
    if [ ! -d "$ROOT/opt" ]; then change install -d -m 0755 "$ROOT/opt"; fi
    change ln -sfn "$KAGE_CHECKOUT" "$ROOT/opt/kage"
  else
    log "unchanged: /opt/kage -> $KAGE_CHECKOUT"
  fi
}

# config_dir GROUP: /etc/kage, mode 0750, owned by root and GROUP, so that the daemons running as
# GROUP can read their config and nobody else can list the tokens. Fixed when it is otherwise (the
# EXO installer, run first, makes it root:root; no kage group exists yet then).
config_dir() {
  local dir="$ROOT/etc/kage"
  if [ -n "$ROOT" ]; then
    if [ ! -d "$dir" ]; then change install -d -m 0750 "$dir"; fi
  elif [ ! -d "$dir" ]; then
    change install -d -m 0750 -o root -g "$1" "$dir"
  elif [ "$(stat -c '%a %U:%G' "$dir")" != "750 root:$1" ]; then
    change chown "root:$1" "$dir"
    change chmod 0750 "$dir"
  fi
}

# install_rendered MANIFEST DIR PATH...: installs the listed paths of a `kage deploy files`
# manifest from DIR, each with the mode and owner the manifest gives.
install_rendered() {
  local manifest="$1" dir="$2" mode owner_group path
  shift 2
  config_dir kage
  while read -r mode owner_group path; do
    case " $* " in
      *" $path "*) install_file "$dir$path" "$path" "$mode" "${owner_group%%:*}" "${owner_group##*:}" ;;
    esac
  done <<<"$manifest"
}

# start_unit NAME: enabled and running; restarted when this run changed something (not staged).
start_unit() {
  [ -z "$ROOT" ] || return 0
  if [ "$CHANGES" -gt 0 ]; then change systemctl daemon-reload; fi
  if ! systemctl is-enabled --quiet "$1" 2>/dev/null; then change systemctl enable "$1"; fi
  if [ "$CHANGES" -gt 0 ] && systemctl is-active --quiet "$1" 2>/dev/null; then
    change systemctl restart "$1"
  elif ! systemctl is-active --quiet "$1" 2>/dev/null; then
    change systemctl start "$1"
  fi
}

summary() {
  if [ "$CHANGES" = 0 ]; then
    log "nothing to change: $1 is installed as the inventory says"
  elif [ "$DRY_RUN" = 1 ]; then
    log "$CHANGES change(s) planned for $1 (dry run: nothing was changed)"
  else
    log "$CHANGES change(s) made for $1"
  fi
}

# render_files INVENTORY DIR (--node NAME | --coordinator): `kage deploy files` into DIR; prints
# its manifest (`MODE OWNER:GROUP PATH` per line). Exits with kage's code (78: a bad inventory).
render_files() {
  need node "Node.js >= 20 runs kage"
  [ -f "$KAGE_BIN" ] || die 69 "$KAGE_BIN is missing: build the checkout first (pnpm install)"
  local inventory="$1" out="$2"
  shift 2
  node "$KAGE_BIN" deploy files --inventory "$inventory" --out "$out" "$@"
}
