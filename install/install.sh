#!/usr/bin/env bash
# claude-key-helper installer: the README's first command on a fresh Debian 12 machine.
#   install/install.sh [--prefix DIR] [--profile NAME] [--build-dir DIR]
#                      [--no-deps] [--no-build] [--no-start] [--no-register]
# What it does, in order (each step safe to repeat: a second run changes nothing that is
# already right, and never overwrites a config you have):
#   1. install/deps.sh (Debian packages; needs root or sudo)            skip: --no-deps
#   2. configure + build Release in build-release/ (tests off)          skip: --no-build
#      (--build-dir DIR: use DIR; an already configured DIR is built as configured)
#   3. cmake --install into PREFIX (default $PREFIX, else ~/.local)
#   4. no config yet: write one. With ANTHROPIC_API_KEY set, the key goes to
#      $XDG_CONFIG_HOME/claude-key-helper/anthropic-api-key (0600, written by the shell's
#      printf builtin: never in argv, never printed) and the config's profile reads that
#      file, because services do not inherit this shell's environment. Without it, the
#      commented example config (install/config.example.toml) is written.
#   5. start the refresher: with a systemd user manager, install the units (prefix
#      substituted) into ~/.config/systemd/user/ and enable --now the service; without
#      one, run `claude-key-refresher run --pid-file STATE/refresher.pid` in the
#      background (nohup, log STATE/refresher.log) unless one is already alive.
#                                                                        skip: --no-start
#   6. register "PREFIX/bin/claude-key-helper --profile P" as Claude Code's apiKeyHelper
#      (install/claude-code-settings.py), with CLAUDE_CODE_API_KEY_HELPER_TTL_MS when the
#      profile's credentials are short-lived (check-config --json).    skip: --no-register
#   7. claude-key-refresher status.
# Everything it creates is recorded in STATE/install-manifest.txt so install/uninstall.sh
# undoes exactly that. Secrets never appear in argv, output or logs.
# Environment: PREFIX, CLAUDE_KEY_HELPER_PROFILE (default profile name), ANTHROPIC_API_KEY,
# XDG_CONFIG_HOME, XDG_STATE_HOME, CLAUDE_KEY_HELPER_CONFIG, CLAUDE_KEY_HELPER_STATE_DIR,
# CLAUDE_CONFIG_DIR (where Claude Code's settings.json is).
# Test hook: CKH_INSTALL_NO_SYSTEMD=1 takes the no-systemd path even where a user manager runs.
# Called by: people (README), tests/integration/install_uninstall.sh.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=install/lib.sh
source "$here/lib.sh"
src=$(cd "$here/.." && pwd)

say() { printf 'install: %s\n' "$*"; }
warn() { printf 'install: warning: %s\n' "$*" >&2; }
die() { printf 'install: error: %s\n' "$*" >&2; exit 1; }
usage() {
  cat >&2 <<'EOF'
usage: install/install.sh [--prefix DIR] [--profile NAME] [--build-dir DIR]
                          [--no-deps] [--no-build] [--no-start] [--no-register]
  --prefix DIR     install under DIR (default: $PREFIX, else ~/.local)
  --profile NAME   profile the registered helper uses (default: $CLAUDE_KEY_HELPER_PROFILE,
                   else "default")
  --build-dir DIR  build in DIR (default: build-release/ in the source tree)
  --no-deps        do not run install/deps.sh      --no-build     install what DIR holds
  --no-start       do not start the refresher      --no-register  leave settings.json alone
EOF
  exit 2
}

[ -n "${HOME:-}" ] || die "HOME is not set"
prefix=${PREFIX:-$HOME/.local}
profile=${CLAUDE_KEY_HELPER_PROFILE:-default}
build_dir="" do_deps=1 do_build=1 do_start=1 do_register=1
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || usage; prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#*=}; shift ;;
    --profile) [ $# -ge 2 ] || usage; profile=$2; shift 2 ;;
    --profile=*) profile=${1#*=}; shift ;;
    --build-dir) [ $# -ge 2 ] || usage; build_dir=$2; shift 2 ;;
    --build-dir=*) build_dir=${1#*=}; shift ;;
    --no-deps) do_deps=0; shift ;;
    --no-build) do_build=0; shift ;;
    --no-start) do_start=0; shift ;;
    --no-register) do_register=0; shift ;;
    -h|--help) usage ;;
    *) warn "unknown argument '$1'"; usage ;;
  esac
done

[[ $profile =~ ^[A-Za-z0-9_-]{1,64}$ ]] || die "profile '$profile' is not 1-64 of A-Z a-z 0-9 _ -"
[ -n "$prefix" ] || die "--prefix is empty"
case "$prefix" in /*) ;; *) prefix="$PWD/$prefix" ;; esac
prefix=${prefix%/}
case "$prefix" in *$'\n'*|*$'\t'*) die "the prefix must not contain tabs or newlines" ;; esac

config_home=${XDG_CONFIG_HOME:-$HOME/.config}
config=${CLAUDE_KEY_HELPER_CONFIG:-$config_home/claude-key-helper/config.toml}
keyfile=$config_home/claude-key-helper/anthropic-api-key
state=${CLAUDE_KEY_HELPER_STATE_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/claude-key-helper}
manifest=$state/install-manifest.txt
helper=$prefix/bin/claude-key-helper
refresher=$prefix/bin/claude-key-refresher
settings_tool=(python3 "$here/claude-code-settings.py")

# --- the manifest: one "kind<TAB>value[<TAB>extra]" per line, appended once -------------
mkdir_private() {  # mkdir -p; the last directory, when created, is 0700
  mkdir -p "$(dirname "$1")"
  (umask 077 && mkdir -p "$1")
}
mkdir_private "$state"
if [ ! -f "$manifest" ]; then
  (umask 077 && printf '%s\n' \
    "# claude-key-helper install manifest v1: written by install/install.sh, read by" \
    "# install/uninstall.sh. One record per line: kind<TAB>path[<TAB>extra]." >"$manifest")
fi
record() {
  local line
  line=$(printf '%s\t' "$@")
  line=${line%$'\t'}
  grep -Fxq -- "$line" "$manifest" || printf '%s\n' "$line" >>"$manifest"
}
record statedir "$state"

# --- 1. dependencies -----------------------------------------------------------------------
if [ "$do_deps" = 1 ]; then
  say "installing build dependencies (install/deps.sh)"
  bash "$here/deps.sh"
fi

# --- 2. build ----------------------------------------------------------------------------
explicit_build_dir=0
if [ -n "$build_dir" ]; then
  explicit_build_dir=1
  case "$build_dir" in /*) ;; *) build_dir="$PWD/$build_dir" ;; esac
else
  build_dir=$src/build-release
fi
if [ "$do_build" = 1 ]; then
  if [ "$explicit_build_dir" = 1 ] && [ -f "$build_dir/CMakeCache.txt" ]; then
    say "building in $build_dir (keeping its configuration)"
  else
    say "configuring a Release build in $build_dir"
    cmake -S "$src" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DCKH_TESTS=OFF
  fi
  cmake --build "$build_dir" -j"$(nproc 2>/dev/null || echo 2)"
fi
[ -f "$build_dir/cmake_install.cmake" ] || die "$build_dir is not a configured build directory"

# --- 3. install the files ----------------------------------------------------------------
# Directories this install creates, so uninstall can remove them again when empty.
for d in "$prefix" "$prefix/bin" "$prefix/share" "$prefix/share/claude-key-helper" \
         "$prefix/share/claude-key-helper/systemd" "$prefix/share/doc" \
         "$prefix/share/doc/claude-key-helper"; do
  [ -e "$d" ] || record dir "$d"
done
say "installing into $prefix"
cmake --install "$build_dir" --prefix "$prefix"
[ -f "$build_dir/install_manifest.txt" ] || die "cmake --install wrote no install_manifest.txt"
while IFS= read -r f || [ -n "$f" ]; do
  [ -n "$f" ] && record file "$f"
done <"$build_dir/install_manifest.txt"
if [ ! -x "$helper" ] || [ ! -x "$refresher" ]; then
  die "the binaries are not in $prefix/bin after install"
fi

# --- 4. configuration ----------------------------------------------------------------------
toml_string() {  # a TOML basic string
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  printf '"%s"' "$s"
}
write_private() {  # write_private DEST: stdin -> DEST via a 0600 temp file and rename
  local dest=$1 tmp
  tmp=$(umask 077 && mktemp "$(dirname "$dest")/.$(basename "$dest").XXXXXX")
  cat >"$tmp"
  chmod 0600 "$tmp"
  mv -f "$tmp" "$dest"
}
config_note=""
if [ -e "$config" ]; then
  say "keeping your config $config"
elif [ -n "${ANTHROPIC_API_KEY:-}" ]; then
  mkdir_private "$(dirname "$keyfile")"
  mkdir_private "$(dirname "$config")"
  # printf is a shell builtin: the key is never on a command line.
  printf '%s' "$ANTHROPIC_API_KEY" | write_private "$keyfile"
  record keyfile "$keyfile"
  {
    cat "$here/config.example.toml"
    printf '\n# Written by install/install.sh: ANTHROPIC_API_KEY was set when it ran. The key is\n'
    printf '# in a 0600 file because the refresher service does not see your shell environment.\n'
    printf '[profile.%s]\nbackend = "static"\n[profile.%s.static]\nfile = %s\n' \
      "$profile" "$profile" "$(toml_string "$keyfile")"
  } | write_private "$config"
  record config "$config" "$(sha256sum "$config" | cut -d' ' -f1)"
  say "stored ANTHROPIC_API_KEY in $keyfile (mode 0600)"
  say "wrote $config: profile '$profile' reads the key from that file, because the"
  say "  refresher service does not inherit this shell's environment (ANTHROPIC_API_KEY)"
else
  mkdir_private "$(dirname "$config")"
  write_private "$config" <"$here/config.example.toml"
  record config "$config" "$(sha256sum "$config" | cut -d' ' -f1)"
  say "wrote $config: every line is commented out; edit it to choose a backend"
  config_note="edit $config (no backend is configured yet), check it with
  $refresher check-config, then rerun this installer (it keeps your config)"
fi

# --- 5. the refresher ----------------------------------------------------------------------
have_user_systemd() {
  [ "${CKH_INSTALL_NO_SYSTEMD:-0}" != 1 ] || return 1
  command -v systemctl >/dev/null 2>&1 || return 1
  systemctl --user show-environment >/dev/null 2>&1
}
started_with=""
if [ "$do_start" = 1 ]; then
  if have_user_systemd; then
    unit_dir=$config_home/systemd/user
    mkdir -p "$unit_dir"
    rendered=$(mktemp -d)
    trap 'rm -rf "$rendered"' EXIT
    "$here/render-units.sh" --prefix "$prefix" --home "$HOME" --out "$rendered" --only systemd
    for unit in claude-key-refresher.service claude-key-refresher-once.service \
                claude-key-refresher-once.timer; do
      if ! cmp -s "$rendered/$unit" "$unit_dir/$unit"; then
        install -m 0644 "$rendered/$unit" "$unit_dir/$unit"
      fi
      record unit "$unit_dir/$unit"
    done
    systemctl --user daemon-reload
    systemctl --user enable claude-key-refresher.service
    record enabled claude-key-refresher.service
    # restart, not just start: a second install must run the freshly installed binary.
    systemctl --user restart claude-key-refresher.service
    say "systemd user service claude-key-refresher enabled and (re)started"
    say "  logs: journalctl --user -u claude-key-refresher; to keep it running while logged"
    say "  out and from boot: loginctl enable-linger $(id -un)"
    started_with=systemd
  else
    pidfile=$state/refresher.pid
    log=$state/refresher.log
    record pidfile "$pidfile"
    if pid=$(refresher_pid "$pidfile"); then
      if [ -r "/proc/$pid/exe" ] && [[ $(readlink "/proc/$pid/exe") == *" (deleted)" ]]; then
        say "restarting the background refresher (pid $pid): its binary was replaced"
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      else
        say "the background refresher is already running (pid $pid)"
      fi
    fi
    if ! refresher_pid "$pidfile" >/dev/null; then
      rm -f "$pidfile"
      (umask 077 && touch "$log")
      setsid=()
      command -v setsid >/dev/null 2>&1 && setsid=(setsid)
      (
        cd /
        # Only 0-2 go to the daemon: inherited descriptors (a caller's pipe) would keep the
        # caller waiting for EOF as long as the refresher lives.
        for fd in "/proc/$BASHPID/fd"/*; do
          fd=${fd##*/}
          if [ "$fd" -gt 2 ] 2>/dev/null; then eval "exec $fd>&-" 2>/dev/null || true; fi
        done
        exec nohup "${setsid[@]}" "$refresher" run --pid-file "$pidfile" </dev/null >>"$log" 2>&1
      ) &
      for _ in $(seq 100); do
        refresher_pid "$pidfile" >/dev/null && break
        sleep 0.1
      done
      if pid=$(refresher_pid "$pidfile"); then
        say "no systemd user manager: started the refresher in the background (pid $pid)"
        say "  log: $log"
        cron_dir=$(mktemp -d)
        if "$here/render-units.sh" --prefix "$prefix" --home "$HOME" --out "$cron_dir" \
             --only cron 2>/dev/null; then
          say "  it does not come back after a reboot; for that, add this line (crontab -e):"
          grep -v '^#' "$cron_dir/claude-key-refresher.crontab" | sed 's/^/    /'
        fi
        rm -rf "$cron_dir"
        started_with=background
      else
        warn "the refresher did not start; last lines of $log:"
        tail -n 5 "$log" >&2 || true
      fi
    fi
    [ -n "$started_with" ] || { refresher_pid "$pidfile" >/dev/null && started_with=background; }
  fi
fi

# --- 6. register with Claude Code ----------------------------------------------------------
sh_word() {  # one /bin/sh word (Claude Code runs apiKeyHelper with /bin/sh -c)
  if [[ $1 =~ ^[A-Za-z0-9/._+-]+$ ]]; then printf '%s' "$1"
  else printf "'%s'" "${1//\'/\'\\\'\'}"
  fi
}
if [ "$do_register" = 1 ]; then
  lifetime=null before=null
  if cc_json=$("$refresher" check-config --profile "$profile" --json 2>/dev/null); then
    # "<credential_lifetime_seconds> <refresh_before_expiry_seconds>" of the profile
    read -r lifetime before < <(printf '%s' "$cc_json" | python3 -c '
import json, sys
data = json.load(sys.stdin)
found = [p for p in data.get("profiles", []) if p.get("name") == sys.argv[1]]
def show(key):
    value = found[0].get(key) if found else None
    return "null" if value is None else str(int(value))
print("missing null" if not found else
      show("credential_lifetime_seconds") + " " + show("refresh_before_expiry_seconds"))
' "$profile" || echo "null null")
    if [ "$lifetime" = missing ]; then
      warn "profile '$profile' is not in the config; the helper fails until you add it"
      lifetime=null
    fi
  else
    warn "the config is not valid yet ($refresher check-config says why); registering"
    warn "  without a TTL; rerun this after fixing it if your credentials are short-lived"
  fi
  ttl_ms=$("${settings_tool[@]}" ttl-for --lifetime-seconds "$lifetime" \
           --refresh-before-expiry-seconds "$before")
  ttl_args=()
  [ -z "$ttl_ms" ] || ttl_args=(--ttl-ms "$ttl_ms")
  settings_file=$("${settings_tool[@]}" path)
  record registration "$settings_file"
  "${settings_tool[@]}" register --helper-command "$(sh_word "$helper") --profile $profile" \
    "${ttl_args[@]}"
  if [ -n "$ttl_ms" ]; then
    say "credentials of profile '$profile' live ${lifetime}s: set Claude Code's"
    say "  CLAUDE_CODE_API_KEY_HELPER_TTL_MS to $ttl_ms so a cached key never outlives them"
  fi
fi

# --- 7. status --------------------------------------------------------------------------------
if [ -n "$started_with" ]; then
  # Give the first refresh a moment, so status shows a credential rather than "none yet".
  for _ in $(seq 50); do
    [ -e "$state/$profile.cred" ] && break
    sleep 0.1
  done
fi
say "status:"
"$refresher" status --profile "$profile" || true
say "done: binaries in $prefix/bin; undo with $here/uninstall.sh"
say "  (add --purge to also remove the config and key file it wrote, and the state dir)"
case ":$PATH:" in *":$prefix/bin:"*) ;; *) say "note: $prefix/bin is not in your PATH" ;; esac
[ -z "$config_note" ] || say "next: $config_note"
