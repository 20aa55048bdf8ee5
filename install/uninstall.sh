#!/usr/bin/env bash
# claude-key-helper uninstaller: undoes exactly what install/install.sh recorded in
# STATE/install-manifest.txt, nothing else.
#   uninstall.sh [--purge]                 (as the user who installed)
#   uninstall.sh --system [--prefix DIR]   (as root: undoes install.sh --system)
# In order:
#   1. stops and disables the systemd user units it installed and removes them
#      (daemon-reload), or stops the background refresher named by its pid file (SIGTERM,
#      SIGKILL after 10 s; only a process that is a claude-key-refresher);
#   2. unregisters the helper from Claude Code's settings.json (restores the previous
#      apiKeyHelper / TTL, leaves values you changed since alone; claude-code-settings.py)
#      and removes the settings.json backups the installer made (only those, each named;
#      kept when a value was changed since);
#   3. removes the installed binaries, share, doc and man files (cmake's install list),
#      each named, and the directories the install created, when empty.
# --system: only step 3, from PREFIX/share/claude-key-helper/install-manifest.txt (PREFIX:
# --prefix, else the prefix this script is installed in, else /usr/local); no user's files.
# Your config, the key file and the state dir are kept (the manifest then lists only them)
# unless --purge: then the key file and the state dir are removed, and the config too if
# the installer wrote it and it is unchanged since (an edited config is kept, and said so).
# Safe to run twice: what is gone already is skipped. Prints one line per thing it does.
# Environment: the same XDG_*/CLAUDE_KEY_HELPER_*/CLAUDE_CONFIG_DIR as the install.
# Called by: people (README), tests/integration/install_uninstall.sh.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=install/lib.sh
source "$here/lib.sh"
say() { printf 'uninstall: %s\n' "$*"; }
warn() { printf 'uninstall: warning: %s\n' "$*" >&2; }
die() { printf 'uninstall: error: %s\n' "$*" >&2; exit 1; }

usage_text() { sed -n '4,5p' "${BASH_SOURCE[0]}" | sed 's/^#  */usage: /'; }
purge=0 system=0 prefix=""
while [ $# -gt 0 ]; do
  case "$1" in
    --purge) purge=1; shift ;;
    --system) system=1; shift ;;
    --prefix) [ $# -ge 2 ] || { usage_text >&2; exit 2; }; prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#*=}; shift ;;
    -h|--help) usage_text; exit 0 ;;
    *) warn "unknown argument '$1'"; usage_text >&2; exit 2 ;;
  esac
done

[ -n "${HOME:-}" ] || die "HOME is not set"
if [ "$system" = 1 ]; then
  [ "$(id -u)" -eq 0 ] || die "--system removes a system-wide install and must run as root: sudo $0 --system"
  [ "$purge" = 0 ] || die "--purge is for a user's own install; --system touches no user's files"
  if [ -z "$prefix" ]; then
    case "$here" in */share/claude-key-helper) prefix=${here%/share/claude-key-helper} ;;
                    *) prefix=/usr/local ;; esac
  fi
  prefix=${prefix%/}
  state=""
  manifest=$prefix/share/claude-key-helper/install-manifest.txt
else
  [ -z "$prefix" ] || die "--prefix goes with --system (a user install is found through its manifest)"
  state=${CLAUDE_KEY_HELPER_STATE_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/claude-key-helper}
  manifest=$state/install-manifest.txt
fi
if [ ! -f "$manifest" ]; then
  say "no install manifest at $manifest: nothing recorded, nothing to undo"
  exit 0
fi

kinds=() values=() extras=()
while IFS=$'\t' read -r kind value extra || [ -n "$kind" ]; do
  case "$kind" in ''|'#'*) continue ;; esac
  kinds+=("$kind") values+=("$value") extras+=("${extra:-}")
done <"$manifest"
keep=()  # manifest lines that stay (what is kept, what could not be undone)
keep_line() { keep+=("$(printf '%s\t' "$@")"); }
all_of() {  # all_of KIND: the values recorded for KIND, one per line
  local i
  for i in "${!kinds[@]}"; do
    [ "${kinds[$i]}" != "$1" ] || printf '%s\n' "${values[$i]}"
  done
}
mapfile -t units < <(all_of unit)
mapfile -t enabled < <(all_of enabled)
mapfile -t pidfiles < <(all_of pidfile)
mapfile -t registrations < <(all_of registration)
mapfile -t files < <(all_of file)
mapfile -t dirs < <(all_of dir)
mapfile -t keyfiles < <(all_of keyfile)
mapfile -t statedirs < <(all_of statedir)
mapfile -t statefiledirs < <(all_of statefiles)
mapfile -t profiles < <(all_of profile)
# Profiles of the config as well (read now: --purge may remove the config below), so that
# --purge also removes the files of profiles added after the install.
config_home=${XDG_CONFIG_HOME:-$HOME/.config}
mapfile -t configs < <(all_of config)
for c in "${CLAUDE_KEY_HELPER_CONFIG:-$config_home/claude-key-helper/config.toml}" "${configs[@]}"; do
  [ -f "$c" ] || continue
  mapfile -t -O "${#profiles[@]}" profiles < <(
    sed -nE 's/^[[:space:]]*\[[[:space:]]*profile\.([A-Za-z0-9_-]{1,64})[][:space:].].*/\1/p' "$c")
done
mapfile -t profiles < <(printf '%s\n' "${profiles[@]}" | grep -E '^[A-Za-z0-9_-]{1,64}$' | sort -u)

# --- 1. stop the refresher -----------------------------------------------------------------
user_systemd() {
  command -v systemctl >/dev/null 2>&1 && systemctl --user show-environment >/dev/null 2>&1
}
if [ ${#units[@]} -gt 0 ] || [ ${#enabled[@]} -gt 0 ]; then
  if user_systemd; then
    names=()
    for u in "${enabled[@]}" "${units[@]}"; do names+=("${u##*/}"); done
    mapfile -t names < <(printf '%s\n' "${names[@]}" | sort -u)
    for name in "${names[@]}"; do
      # disable --now also catches a unit the user enabled by hand (the timer): its file
      # is about to go, so no enablement link may be left dangling.
      if systemctl --user disable --now "$name" >/dev/null 2>&1; then
        say "ran systemctl --user disable --now $name"
      else
        warn "systemctl --user disable --now $name failed"
      fi
    done
  elif [ ${#enabled[@]} -gt 0 ]; then
    warn "no systemd user manager reachable: cannot stop ${enabled[*]}; removing the unit"
    warn "  files anyway (stop it with systemctl --user stop when you next can)"
  fi
  for u in "${units[@]}"; do
    if [ -e "$u" ] || [ -L "$u" ]; then rm -f "$u"; say "removed $u"; fi
  done
  if user_systemd; then
    systemctl --user daemon-reload || true
    systemctl --user reset-failed claude-key-refresher.service \
      claude-key-refresher-once.service >/dev/null 2>&1 || true
  fi
fi

for pf in "${pidfiles[@]}"; do
  if pid=$(refresher_pid "$pf"); then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null || true
      say "killed the background refresher (pid $pid; it ignored SIGTERM for 10 s)"
    else
      say "stopped the background refresher (pid $pid)"
    fi
  fi
  rm -f "$pf"
done

# --- 2. settings.json --------------------------------------------------------------------------
for settings in "${registrations[@]}"; do
  if ! python3 "$here/claude-code-settings.py" unregister --remove-backups \
         --config-dir "$(dirname "$settings")"
  then
    warn "could not unregister from $settings (see above); rerun this after fixing it"
    keep_line registration "$settings"
  fi
done

# --- 3. installed files --------------------------------------------------------------------
# --system: the manifest lives in the share dir, which is about to go.
[ "$system" = 0 ] || rm -f "$manifest"
for f in "${files[@]}"; do
  if [ -e "$f" ] || [ -L "$f" ]; then rm -f "$f" && say "removed $f"; fi
done
# Deepest first, and only when empty: anything else in them is not ours.
mapfile -t dirs < <(printf '%s\n' "${dirs[@]}" | awk '{ print length($0) "\t" $0 }' |
                    sort -rn | cut -f2-)
for d in "${dirs[@]}"; do
  [ -n "$d" ] || continue
  if [ -d "$d" ] && rmdir "$d" 2>/dev/null; then say "removed directory $d"; fi
done

# --- config, key file, state -------------------------------------------------------------------
for i in "${!kinds[@]}"; do
  [ "${kinds[$i]}" = config ] || continue
  config=${values[$i]} sum=${extras[$i]}
  [ -e "$config" ] || continue
  if [ "$purge" = 1 ] && [ "$(sha256sum "$config" | cut -d' ' -f1)" = "$sum" ]; then
    rm -f "$config"
    say "removed $config (written by the installer, unchanged)"
    rmdir "$(dirname "$config")" 2>/dev/null || true
  elif [ "$purge" = 1 ]; then
    say "kept $config: you edited it after the install"
  else
    say "kept your config $config"
    keep_line config "$config" "$sum"
  fi
done
for i in "${!kinds[@]}"; do
  [ "${kinds[$i]}" = keyfile ] || continue
  k=${values[$i]}
  [ -e "$k" ] || continue
  if [ "$purge" = 1 ]; then
    rm -f "$k"
    say "removed the key file $k"
    rmdir "$(dirname "$k")" 2>/dev/null || true
  else
    say "kept the key file $k"
    keep_line keyfile "$k" "${extras[$i]}"
  fi
done
# A state dir that existed before the install: only the refresher's files of the known
# profiles go, by their exact names (shared/paths.cpp's P.*, their temp files, the caller
# records), the daemons' reload progress files, and the installer's own log, pid file and
# manifest; files of yours with other names stay, and so does the dir.
purge_state_files() {
  local s=$1 p suffix
  for p in "${profiles[@]}"; do
    # secret_store = "keyring": the item goes with the state (P.keyring names it).
    if [ -f "$s/$p.keyring" ]; then
      if command -v secret-tool >/dev/null 2>&1 &&
        timeout 15 secret-tool clear application claude-key-helper profile "$p" state_dir "$s" 2>/dev/null; then
        say "removed the keyring item of profile '$p'"
      else
        warn "could not remove the keyring item of profile '$p' (application=claude-key-helper profile=$p state_dir=$s): remove it in Seahorse, or with secret-tool clear"
      fi
    fi
    for suffix in cred secret keyring lock status sock fpkey daemon; do
      rm -f -- "$s/$p.$suffix"
      find "$s" -maxdepth 1 -name "$p.$suffix.tmp.*" -type f -delete
    done
    [ ! -d "$s/callers" ] || find "$s/callers" -maxdepth 1 -name "$p.*" -type f -delete
  done
  find "$s" -maxdepth 1 -regextype posix-extended -regex '.*/daemon\.[0-9]+\.reload' -type f -delete
  rmdir -- "$s/callers" 2>/dev/null || true
  rm -f -- "$s/refresher.log" "$s/refresher.pid"
  [ "$s" = "$state" ] || rm -f -- "$s/install-manifest.txt"
}
for s in "${statefiledirs[@]}"; do
  [ -d "$s" ] || continue
  if [ "$purge" = 1 ]; then
    purge_state_files "$s"
    say "removed the refresher's files from $s (the dir was there before the install)"
  else
    keep_line statefiles "$s"
  fi
done
if [ "$purge" = 0 ]; then
  for p in $(all_of profile); do keep_line profile "$p"; done
fi
for s in "${statedirs[@]}"; do
  [ -d "$s" ] || continue
  case "$s" in /|"$HOME"|"$HOME/") warn "refusing to remove state dir $s"; continue ;; esac
  if [ "$purge" = 1 ]; then
    rm -rf -- "$s"
    say "removed the state dir $s"
  else
    keep_line statedir "$s"
  fi
done

if [ "$system" = 1 ]; then
  :
elif [ -d "$state" ] && [ ${#keep[@]} -gt 0 ]; then
  {
    printf '%s\n' "# claude-key-helper install manifest v1: what uninstall.sh kept or could not undo."
    for line in "${keep[@]}"; do printf '%s\n' "${line%$'\t'}"; done
  } >"$manifest.tmp.$$"
  chmod 0600 "$manifest.tmp.$$"
  mv -f "$manifest.tmp.$$" "$manifest"
  [ "$purge" = 1 ] || say "kept the state dir $state (credential cache, logs); --purge removes it"
else
  rm -f "$manifest"
fi
say "done"
