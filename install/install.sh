#!/usr/bin/env bash
# claude-key-helper installer: the README's first command on a fresh Debian 12 machine.
#   install/install.sh [--prefix DIR] [--profile NAME] [--build-dir DIR] [--subscription]
#                      [--no-deps] [--no-build] [--no-start] [--no-register]
#   install/install.sh --system [--prefix DIR] [--build-dir DIR] [--no-deps] [--no-build]
# The one promise: it never breaks a Claude Code that works. settings.json gets apiKeyHelper
# only for a profile whose `claude-key-refresher once` has just succeeded AND whose helper
# then prints a credential; never for an anthropic-oauth (subscription) profile, which
# instead keeps Claude Code's own login fresh through the claude-code sink. In every other
# case settings.json is left as it was, the installer says why and exactly what to run,
# and exits 1.
# What it does, in order (each step safe to repeat: a second run changes nothing that is
# already right, and never overwrites a config you have):
#   1. install/deps.sh (Debian packages to build; needs root or sudo)   skip: --no-deps
#   2. configure + build Release in build-release/ (tests off)          skip: --no-build
#      (--build-dir DIR: use DIR; an already configured DIR is built as configured)
#   3. cmake --install into PREFIX (default $PREFIX, else ~/.local)
#   4. no config yet: write one holding only the profile it sets up, plus a pointer to the
#      commented example. With ANTHROPIC_API_KEY set: a static profile reading the key from
#      $XDG_CONFIG_HOME/claude-key-helper/anthropic-api-key (0600, written by the shell's
#      printf builtin: never in argv, never printed), because services do not inherit this
#      shell's environment. With --subscription: an anthropic-oauth profile with the
#      claude-code sink. Otherwise no config is written (and nothing registered).
#   5. an anthropic-oauth profile with no login yet adopts Claude Code's own login when
#      there is one (claude-key-refresher import-claude-code: the sink is on from then on).
#   6. claude-key-refresher once --profile P (without ANTHROPIC_API_KEY: the service will
#      not have it either), then the helper as Claude Code runs it.
#   7. start the refresher (unless the config is missing or invalid): with a systemd user
#      manager, the units (prefix substituted) into ~/.config/systemd/user/, enable --now;
#      without one, `claude-key-refresher run --pid-file STATE/refresher.pid` in the
#      background (nohup, log STATE/refresher.log) unless one is already alive, and the
#      crontab line that keeps credentials fresh after a reboot.     skip: --no-start
#   8. register "PREFIX/bin/claude-key-helper --profile P" as Claude Code's apiKeyHelper
#      (install/claude-code-settings.py) when step 6 succeeded and P is not anthropic-oauth,
#      with CLAUDE_CODE_API_KEY_HELPER_TTL_MS for short-lived credentials. skip: --no-register
#   9. claude-key-refresher status, then what to do next (PATH for $SHELL, undo).
# --system (as root): steps 1-3 into /usr/local (or --prefix), binaries root-owned 0755 and
# every directory above them root-owned and not group/world-writable (Claude Code refuses
# a managed helper a user could change); the systemd user units in PREFIX/lib/systemd/user.
# It touches no user's files (config, state, settings.json) and starts nothing: it prints
# what each user runs. Its manifest is PREFIX/share/claude-key-helper/install-manifest.txt.
# Everything a user install creates is recorded in STATE/install-manifest.txt so
# PREFIX/share/claude-key-helper/uninstall.sh undoes exactly that. Secrets never appear in
# argv, output or logs.
# Environment: PREFIX, CLAUDE_KEY_HELPER_PROFILE (default profile name), ANTHROPIC_API_KEY,
# XDG_CONFIG_HOME, XDG_STATE_HOME, CLAUDE_KEY_HELPER_CONFIG, CLAUDE_KEY_HELPER_STATE_DIR,
# CLAUDE_CONFIG_DIR (where Claude Code's settings.json is), SHELL (for the PATH hint).
# Test hook: CKH_INSTALL_NO_SYSTEMD=1 takes the no-systemd path even where a user manager runs.
# Exit: 0 set up and working; 1 not (said why, settings.json untouched); 2 usage.
# Called by: people (README), tests/integration/install_uninstall.sh, installer_*.sh.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=install/lib.sh
source "$here/lib.sh"
src=$(cd "$here/.." && pwd)

say() { printf 'install: %s\n' "$*"; }
warn() { printf 'install: warning: %s\n' "$*" >&2; }
die() { printf 'install: error: %s\n' "$*" >&2; exit 1; }
usage_text() {
  cat <<'EOF'
usage: install/install.sh [--prefix DIR] [--profile NAME] [--build-dir DIR] [--subscription]
                          [--no-deps] [--no-build] [--no-start] [--no-register]
       install/install.sh --system [--prefix DIR] [--build-dir DIR] [--no-deps] [--no-build]
  --prefix DIR     install under DIR (default: $PREFIX, else ~/.local; /usr/local with --system)
  --profile NAME   profile the registered helper uses (default: $CLAUDE_KEY_HELPER_PROFILE,
                   else "default")
  --build-dir DIR  build in DIR (default: build-release/ in the source tree)
  --subscription   with no config yet: set up a Claude Pro/Max subscription profile
                   (anthropic-oauth, keeping Claude Code's own login fresh; no apiKeyHelper)
  --system         as root, for every user: binaries root-owned in /usr/local/bin; touches
                   no user's settings and starts nothing (prints what each user runs)
  --no-deps        do not run install/deps.sh      --no-build     install what DIR holds
  --no-start       do not start the refresher      --no-register  leave settings.json alone
  -h, --help       this text
Exit: 0 installed and working; 1 not (it says why and what to run; settings.json untouched);
      2 a wrong option.
EOF
}
usage() { usage_text >&2; exit 2; }

[ -n "${HOME:-}" ] || die "HOME is not set"
invocation=("$0" "$@")
prefix=${PREFIX:-} prefix_given=0
profile=${CLAUDE_KEY_HELPER_PROFILE:-default}
build_dir="" do_deps=1 do_build=1 do_start=1 do_register=1 subscription=0 system=0
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || usage; prefix=$2 prefix_given=1; shift 2 ;;
    --prefix=*) prefix=${1#*=} prefix_given=1; shift ;;
    --profile) [ $# -ge 2 ] || usage; profile=$2; shift 2 ;;
    --profile=*) profile=${1#*=}; shift ;;
    --build-dir) [ $# -ge 2 ] || usage; build_dir=$2; shift 2 ;;
    --build-dir=*) build_dir=${1#*=}; shift ;;
    --subscription) subscription=1; shift ;;
    --system) system=1; shift ;;
    --no-deps) do_deps=0; shift ;;
    --no-build) do_build=0; shift ;;
    --no-start) do_start=0; shift ;;
    --no-register) do_register=0; shift ;;
    -h|--help) usage_text; exit 0 ;;
    *) warn "unknown argument '$1'"; usage ;;
  esac
done

if [ "$system" = 1 ]; then
  [ "$(id -u)" -eq 0 ] || die "--system installs for every user into ${prefix:-/usr/local} and must run as root: sudo $0 --system (a per-user install needs no root: $0)"
  [ "$subscription" = 0 ] || die "--subscription sets up one user's login; run it as that user, without --system"
  [ "$prefix_given" = 1 ] || prefix=/usr/local
fi
[ -n "$prefix" ] || prefix=$HOME/.local
[[ $profile =~ ^[A-Za-z0-9_-]{1,64}$ ]] || die "profile '$profile' is not 1-64 of A-Z a-z 0-9 _ -"
case "$prefix" in /*) ;; *) prefix="$PWD/$prefix" ;; esac
prefix=${prefix%/}
[ -n "$prefix" ] || die "--prefix must not be /"
case "$prefix" in *$'\n'*|*$'\t'*) die "the prefix must not contain tabs or newlines" ;; esac

helper=$prefix/bin/claude-key-helper
refresher=$prefix/bin/claude-key-refresher
share=$prefix/share/claude-key-helper
settings_tool=(python3 "$here/claude-code-settings.py")

# One /bin/sh word (Claude Code runs apiKeyHelper with /bin/sh -c; cron runs its lines so).
sh_word() {
  if [[ $1 =~ ^[A-Za-z0-9/._+=-]+$ ]]; then printf '%s' "$1"
  else printf "'%s'" "${1//\'/\'\\\'\'}"
  fi
}
# The command that reruns this installer as it was run (for "then run ..." lines).
rerun=""
for word in "${invocation[@]}"; do rerun+="${rerun:+ }$(sh_word "$word")"; done

# --- the manifest: one "kind<TAB>value[<TAB>extra]" per line, appended once -------------
mkdir_private() {  # mkdir -p; the last directory, when created, is 0700
  mkdir -p "$(dirname "$1")"
  (umask 077 && mkdir -p "$1")
}
if [ "$system" = 1 ]; then
  manifest=$share/install-manifest.txt
else
  config_home=${XDG_CONFIG_HOME:-$HOME/.config}
  config=${CLAUDE_KEY_HELPER_CONFIG:-$config_home/claude-key-helper/config.toml}
  keyfile=$config_home/claude-key-helper/anthropic-api-key
  state=${CLAUDE_KEY_HELPER_STATE_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/claude-key-helper}
  manifest=$state/install-manifest.txt
  # A state dir that was there before (CLAUDE_KEY_HELPER_STATE_DIR naming a dir of yours)
  # is never removed whole: --purge then removes only the refresher's own files in it.
  state_kind=statedir
  [ ! -e "$state" ] || [ -f "$manifest" ] || state_kind=statefiles
  mkdir_private "$state"
fi
manifest_lines=()  # --system: written once the share dir exists
record() {
  local line
  line=$(printf '%s\t' "$@")
  line=${line%$'\t'}
  if [ "$system" = 1 ]; then manifest_lines+=("$line"); return; fi
  if [ ! -f "$manifest" ]; then
    (umask 077 && printf '%s\n' \
      "# claude-key-helper install manifest v1: written by install/install.sh, read by" \
      "# uninstall.sh. One record per line: kind<TAB>path[<TAB>extra]." >"$manifest")
  fi
  grep -Fxq -- "$line" "$manifest" || printf '%s\n' "$line" >>"$manifest"
}
forget() {  # forget KIND VALUE: drops the manifest lines for VALUE of KIND (any extra)
  [ "$system" = 0 ] && [ -f "$manifest" ] || return 0
  local tmp
  tmp=$(umask 077 && mktemp "$manifest.XXXXXX")
  awk -F'\t' -v k="$1" -v v="$2" '!($1 == k && $2 == v)' "$manifest" >"$tmp"
  mv -f "$tmp" "$manifest"
}
recorded_extra() {  # recorded_extra KIND VALUE: prints the extra of that manifest line
  [ -f "$manifest" ] || return 1
  awk -F'\t' -v k="$1" -v v="$2" '$1 == k && $2 == v { print $3; found = 1 } END { exit !found }' "$manifest"
}
# Decided once, by the first install: a rerun finds its manifest in the dir it may have
# created itself, so only a manifest without a state line may record one.
[ "$system" = 1 ] || grep -Eq "^state(dir|files)"$'\t' "$manifest" 2>/dev/null ||
  record "$state_kind" "$state"
# The profiles whose files --purge may remove from a statefiles dir (by their exact names).
[ "$system" = 1 ] || record profile "$profile"

# --- --system: the directories above the binaries ------------------------------------------
# Claude Code refuses to run an organization-managed helper that the user could replace, so
# the binaries and every directory above them must be root-owned and not group/world-writable.
unsafe_ancestor() {  # prints the first existing directory from $1 up to / that is not safe
  local d=$1 owner mode
  while :; do
    if [ -e "$d" ]; then
      read -r owner mode < <(stat -L -c '%u %a' "$d")
      if [ "$owner" != 0 ] || (( (8#$mode & 8#022) != 0 )); then
        printf '%s (owner uid %s, mode %s)' "$d" "$owner" "$mode"
        return 0
      fi
    fi
    [ "$d" != / ] || return 1
    d=$(dirname "$d")
  done
}
if [ "$system" = 1 ]; then
  if bad=$(unsafe_ancestor "$prefix/bin"); then
    die "$bad is writable by a user other than root (or not root's): Claude Code refuses a managed helper below it; choose another --prefix or fix it (chown root:root, chmod go-w)"
  fi
  umask 022
fi

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
# The directories this install creates (any depth that install rules use), so uninstall can
# remove them again when empty.
mapfile -t dirs_before < <(find "$prefix" -maxdepth 4 -type d 2>/dev/null || true)
missing_above=() d=$prefix
while [ ! -e "$d" ]; do missing_above+=("$d"); d=$(dirname "$d"); done
say "installing into $prefix"
# cmake --install rewrites BUILD/install_manifest.txt: two installs from one build dir at
# once (tests do that) must not read each other's list; only files under PREFIX count.
exec {install_lock}>>"$build_dir/.ckh-install.lock"
flock "$install_lock"
cmake --install "$build_dir" --prefix "$prefix"
[ -f "$build_dir/install_manifest.txt" ] || die "cmake --install wrote no install_manifest.txt"
mapfile -t installed < <(awk -v p="$prefix/" 'index($0, p) == 1' "$build_dir/install_manifest.txt")
flock -u "$install_lock"
exec {install_lock}>&-
declare -A existed=()
for d in "${dirs_before[@]}"; do existed[$d]=1; done
declare -A new_dirs=()
for f in "${installed[@]}"; do
  d=$(dirname "$f")
  while [ "${#d}" -ge "${#prefix}" ] && [ -z "${existed[$d]:-}" ]; do
    new_dirs[$d]=1
    [ "$d" != "$prefix" ] || break
    d=$(dirname "$d")
  done
done
for d in "${missing_above[@]}"; do new_dirs[$d]=1; done
for d in "${!new_dirs[@]}"; do record dir "$d"; done
for f in "${installed[@]}"; do record file "$f"; done
if [ ! -x "$helper" ] || [ ! -x "$refresher" ]; then
  die "the binaries are not in $prefix/bin after install"
fi

if [ "$system" = 1 ]; then
  chown root:root "$helper" "$refresher"
  chmod 0755 "$helper" "$refresher"
  for d in "${!new_dirs[@]}"; do chown root:root "$d"; chmod go-w "$d"; done
  if bad=$(unsafe_ancestor "$prefix/bin"); then die "after the install, $bad is not safe"; fi
  unit_dir=$prefix/lib/systemd/user
  unit=$unit_dir/claude-key-refresher.service
  if ! grep -qxF "ExecStart=$refresher run" "$unit" 2>/dev/null; then
    # A build whose install rules predate the rendered units: render them here.
    rendered=$(mktemp -d)
    "$here/render-units.sh" --prefix "$prefix" --home "$HOME" --out "$rendered" --only systemd
    [ -d "$unit_dir" ] || { mkdir -p "$unit_dir"; record dir "$unit_dir"; }
    for u in "$rendered"/*; do
      install -o root -g root -m 0644 "$u" "$unit_dir/${u##*/}"
      record file "$unit_dir/${u##*/}"
    done
    rm -rf "$rendered"
  fi
  {
    printf '%s\n' "# claude-key-helper install manifest v1 (--system): written by install/install.sh," \
      "# read by uninstall.sh --system. One record per line: kind<TAB>path."
    printf '%s\n' "${manifest_lines[@]}" | awk '!seen[$0]++'
  } >"$manifest.tmp"
  chmod 0644 "$manifest.tmp"
  mv -f "$manifest.tmp" "$manifest"
  say "installed for every user: $helper and $refresher (root-owned, 0755; every directory"
  say "  above them root-owned and not writable by group or others)"
  say "  systemd user units: $unit_dir/ (not enabled for anyone)"
  say "no user's settings.json, config or state was touched. Each user who wants it runs,"
  say "  as themselves:"
  say "  1. a config: mkdir -p ~/.config/claude-key-helper, then write"
  say "     ~/.config/claude-key-helper/config.toml (every option, commented:"
  say "     $prefix/share/doc/claude-key-helper/config.example.toml)"
  say "  2. $refresher once          (must succeed before step 4)"
  say "  3. systemctl --user enable --now claude-key-refresher"
  say "  4. python3 $share/claude-code-settings.py register --helper-command '$helper --profile default'"
  say "     (not for a subscription profile: its sinks = [\"claude-code\"] keeps Claude Code's"
  say "     own login fresh, and apiKeyHelper must stay unset)"
  say "undo: $share/uninstall.sh --system"
  exit 0
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
config_header() {
  printf '# claude-key-helper configuration, written by install/install.sh (%s).\n' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  printf '# Every option and backend, commented: %s\n' \
    "$prefix/share/doc/claude-key-helper/config.example.toml"
  printf '# After an edit: %s check-config\n' "$refresher"
}
no_config=0 key_replaced=0
if [ -e "$config" ]; then
  say "keeping your config $config"
  [ "$subscription" = 0 ] || warn "--subscription only writes a config where there is none; $config is used as it is"
  # A rerun with a corrected ANTHROPIC_API_KEY: the key file this installer wrote (its
  # manifest says so) takes the new key; a key file of the user's own is never touched.
  # The manifest holds the sha256 of what it wrote: a key file edited since is the user's.
  if [ -n "${ANTHROPIC_API_KEY:-}" ] && [ -f "$keyfile" ] && [ "$system" = 0 ] &&
     written_sum=$(recorded_extra keyfile "$keyfile") && [ -n "$written_sum" ] &&
     ! cmp -s "$keyfile" <(printf '%s' "$ANTHROPIC_API_KEY"); then
    if [ "$(sha256sum <"$keyfile" | cut -d' ' -f1)" = "$written_sum" ]; then
      printf '%s' "$ANTHROPIC_API_KEY" | write_private "$keyfile"
      forget keyfile "$keyfile"
      record keyfile "$keyfile" "$(sha256sum <"$keyfile" | cut -d' ' -f1)"
      key_replaced=1
      say "replaced the key in $keyfile with this shell's ANTHROPIC_API_KEY (mode 0600)"
    else
      warn "$keyfile was changed since the install wrote it: kept as it is (this shell's"
      warn "  ANTHROPIC_API_KEY differs; edit that file yourself if the shell's key is the right one)"
    fi
  fi
elif [ "$subscription" = 1 ]; then
  # Whether a Secret Service answers on the session bus (gnome-keyring, KWallet): offered
  # for the subscription's refresh token (secret_store = "keyring").
  keyring_answers() {
    command -v dbus-send >/dev/null 2>&1 &&
      timeout 5 dbus-send --session --print-reply --dest=org.freedesktop.secrets \
        /org/freedesktop/secrets org.freedesktop.DBus.Peer.Ping >/dev/null 2>&1
  }
  mkdir_private "$(dirname "$config")"
  {
    config_header
    printf '\n# A Claude Pro/Max subscription: the refresher keeps Claude Code'"'"'s own login\n'
    printf '# (~/.claude/.credentials.json) fresh; apiKeyHelper stays unset for it.\n'
    printf '[profile.%s]\nbackend = "anthropic-oauth"\nsinks = ["claude-code"]\n' "$profile"
    # The refresh token in the OS keyring when one answers on this session bus.
    if keyring_answers; then
      printf '# a keyring answered on the session bus at install: the refresh token lives there\n'
      printf 'secret_store = "keyring"\n'
    else
      printf '# secret_store = "keyring"   # with a desktop keyring (gnome-keyring, KWallet)\n'
    fi
  } | write_private "$config"
  record config "$config" "$(sha256sum "$config" | cut -d' ' -f1)"
  say "wrote $config: profile '$profile' is your subscription (anthropic-oauth, claude-code sink)"
elif [ -n "${ANTHROPIC_API_KEY:-}" ]; then
  mkdir_private "$(dirname "$keyfile")"
  mkdir_private "$(dirname "$config")"
  # printf is a shell builtin: the key is never on a command line.
  printf '%s' "$ANTHROPIC_API_KEY" | write_private "$keyfile"
  forget keyfile "$keyfile"
  record keyfile "$keyfile" "$(sha256sum <"$keyfile" | cut -d' ' -f1)"
  {
    config_header
    printf '\n# ANTHROPIC_API_KEY was set when the installer ran; the key is in a 0600 file\n'
    printf '# because the refresher service does not see your shell'"'"'s environment.\n'
    printf '[profile.%s]\nbackend = "static"\n[profile.%s.static]\nfile = %s\n' \
      "$profile" "$profile" "$(toml_string "$keyfile")"
  } | write_private "$config"
  record config "$config" "$(sha256sum "$config" | cut -d' ' -f1)"
  say "stored ANTHROPIC_API_KEY in $keyfile (mode 0600)"
  say "wrote $config: profile '$profile' reads the key from that file, because the"
  say "  refresher service does not inherit this shell's environment (ANTHROPIC_API_KEY)"
else
  no_config=1
fi

# --- 5./6. does the profile work? ------------------------------------------------------------
# The refresher and the helper run as a service and as Claude Code will: without this
# shell's ANTHROPIC_API_KEY, from /.
as_service() { (cd / && env -u ANTHROPIC_API_KEY "$@"); }
backend="" config_ok=0 once_rc="" once_err="" problem=""
if [ "$no_config" = 0 ]; then
  if cc_json=$(as_service "$refresher" check-config --json 2>/dev/null); then
    config_ok=1
    backend=$(printf '%s' "$cc_json" | python3 -c '
import json, sys
found = [p for p in json.load(sys.stdin).get("profiles", []) if p.get("name") == sys.argv[1]]
print(found[0].get("backend", "") if found else "")' "$profile" || true)
    if [ -z "$backend" ]; then
      problem="profile '$profile' is not in $config"
    fi
  else
    problem="the config is not valid: $(as_service "$refresher" check-config 2>&1 | head -n 5 | tr '\n' ' ')"
  fi
fi

claude_store=${CLAUDE_CONFIG_DIR:-$HOME/.claude}/.credentials.json
claude_code_logged_in() {  # Claude Code's own store holds a subscription login (no secret read out)
  [ -f "$claude_store" ] && python3 -c '
import json, sys
try:
    o = json.load(open(sys.argv[1])).get("claudeAiOauth") or {}
except Exception:
    sys.exit(1)
sys.exit(0 if o.get("refreshToken") and o.get("accessToken") else 1)' "$claude_store"
}
state_secret=$state/$profile.secret
profile_lists_sink() {  # [profile.P] has sinks = [..., "claude-code", ...]
  python3 -c '
import sys
try:
    import tomllib
except ImportError:  # Python < 3.11: a plain look at the file
    sys.exit(0 if "\"claude-code\"" in open(sys.argv[1]).read() else 1)
profile = tomllib.load(open(sys.argv[1], "rb")).get("profile", {}).get(sys.argv[2], {})
sys.exit(0 if "claude-code" in (profile.get("sinks") or []) else 1)' "$config" "$profile" 2>/dev/null
}
sink_owned() { [ -f "$state_secret" ] && grep -qx 'owns_claude_code_store: yes' "$state_secret"; }
if [ "$backend" = anthropic-oauth ] && [ ! -e "$state_secret" ] && [ ! -e "$state/$profile.keyring" ]; then
  if claude_code_logged_in; then
    say "profile '$profile' has no login yet; adopting Claude Code's own login ($claude_store)"
    if out=$(as_service "$refresher" import-claude-code --profile "$profile" 2>&1); then
      say "  $out"
    else
      problem="import-claude-code failed: $out"
    fi
  else
    problem="profile '$profile' (a subscription) has no login yet, and Claude Code has none to adopt"
  fi
fi

if [ "$config_ok" = 1 ] && [ -z "$problem" ]; then
  # A replaced key is fetched now, not when the cached one is next due.
  force=()
  [ "$key_replaced" = 0 ] || force=(--force)
  say "refreshing profile '$profile' once: $refresher once ${force[*]:+${force[*]} }--profile $profile"
  once_rc=0
  once_err=$(as_service "$refresher" once "${force[@]}" --profile "$profile" 2>&1 >/dev/null) || once_rc=$?
  if [ "$once_rc" != 0 ]; then
    problem="claude-key-refresher once --profile $profile failed (exit $once_rc): $once_err"
  fi
fi
helper_cmd="$(sh_word "$helper") --profile $profile"
if [ "$config_ok" = 1 ] && [ -z "$problem" ]; then
  helper_rc=0
  helper_err=$(as_service /bin/sh -c "$helper_cmd" 2>&1 >/dev/null </dev/null) || helper_rc=$?
  if [ "$helper_rc" != 0 ]; then
    problem="the helper ($helper_cmd) exited $helper_rc: $helper_err"
  fi
fi

# --- 7. the refresher ----------------------------------------------------------------------
have_user_systemd() {
  [ "${CKH_INSTALL_NO_SYSTEMD:-0}" != 1 ] || return 1
  command -v systemctl >/dev/null 2>&1 || return 1
  systemctl --user show-environment >/dev/null 2>&1
}
started_with="" cron_line=""
# cron_word: one /bin/sh word in a crontab line (cron turns an unescaped % into a newline).
cron_word() { local w; w=$(sh_word "$1"); printf '%s' "${w//%/\\%}"; }
if [ "$do_start" = 1 ] && [ "$config_ok" = 0 ]; then
  say "not starting the refresher: there is no valid configuration to serve yet"
elif [ "$do_start" = 1 ]; then
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
        exec env -u ANTHROPIC_API_KEY nohup "${setsid[@]}" "$refresher" run --pid-file "$pidfile" \
          </dev/null >>"$log" 2>&1
      ) &
      for _ in $(seq 100); do
        refresher_pid "$pidfile" >/dev/null && break
        sleep 0.1
      done
      if pid=$(refresher_pid "$pidfile"); then
        say "no systemd user manager: started the refresher in the background (pid $pid)"
        say "  log: $log"
        started_with=background
      else
        warn "the refresher did not start; last lines of $log:"
        tail -n 5 "$log" >&2 || true
      fi
    fi
    [ -n "$started_with" ] || { refresher_pid "$pidfile" >/dev/null && started_with=background; }
    # cron starts its commands with HOME, a minimal PATH and none of this shell's variables:
    # the line names every non-default location itself.
    envs=""
    [ "$config" = "$HOME/.config/claude-key-helper/config.toml" ] ||
      envs+="CLAUDE_KEY_HELPER_CONFIG=$(cron_word "$config") "
    [ "$state" = "$HOME/.local/state/claude-key-helper" ] ||
      envs+="CLAUDE_KEY_HELPER_STATE_DIR=$(cron_word "$state") "
    [ -z "${CLAUDE_CONFIG_DIR:-}" ] || envs+="CLAUDE_CONFIG_DIR=$(cron_word "$CLAUDE_CONFIG_DIR") "
    cron_line="*/4 * * * * umask 077 && mkdir -p $(cron_word "$state") && ${envs}$(cron_word "$refresher") once --quiet >>$(cron_word "$state/cron.log") 2>&1"
  fi
fi

# --- 8. register with Claude Code ----------------------------------------------------------
registered=0 sink_ok=0
if [ -z "$problem" ] && [ "$config_ok" = 1 ] && [ "$backend" = anthropic-oauth ]; then
  if profile_lists_sink || sink_owned; then
    sink_ok=1
  else
    problem="profile '$profile' is a subscription, but its claude-code sink is off, so Claude Code would not see its tokens"
  fi
elif [ -z "$problem" ] && [ "$config_ok" = 1 ] && [ "$do_register" = 1 ]; then
  lifetime=null before=null
  read -r lifetime before < <(printf '%s' "$cc_json" | python3 -c '
import json, sys
found = [p for p in json.load(sys.stdin).get("profiles", []) if p.get("name") == sys.argv[1]]
def show(key):
    value = found[0].get(key) if found else None
    return "null" if value is None else str(int(value))
print(show("credential_lifetime_seconds") + " " + show("refresh_before_expiry_seconds"))
' "$profile" || echo "null null")
  ttl_ms=$("${settings_tool[@]}" ttl-for --lifetime-seconds "$lifetime" \
           --refresh-before-expiry-seconds "$before")
  ttl_args=()
  [ -z "$ttl_ms" ] || ttl_args=(--ttl-ms "$ttl_ms")
  settings_file=$("${settings_tool[@]}" path)
  record registration "$settings_file"
  if "${settings_tool[@]}" register --helper-command "$helper_cmd" "${ttl_args[@]}"; then
    registered=1
  else
    problem="registering in $settings_file failed (see above)"
  fi
  if [ -n "$ttl_ms" ]; then
    say "credentials of profile '$profile' live ${lifetime}s: set Claude Code's"
    say "  CLAUDE_CODE_API_KEY_HELPER_TTL_MS to $ttl_ms so a cached key never outlives them"
  fi
fi

# --- 9. status and what next ---------------------------------------------------------------
if [ -n "$started_with" ] && [ -z "$problem" ]; then
  for _ in $(seq 50); do
    [ -e "$state/$profile.cred" ] && break
    sleep 0.1
  done
fi
if [ "$config_ok" = 1 ]; then
  say "status:"
  as_service "$refresher" status --profile "$profile" || true
fi
if [ -n "$cron_line" ]; then
  say "the background refresher is not restarted after a reboot; to keep the credential"
  say "  fresh anyway, add this line with crontab -e (it runs '$(basename "$refresher") once' every"
  say "  4 minutes; log: $state/cron.log):"
  printf '    %s\n' "$cron_line"
fi
case ":$PATH:" in
  *":$prefix/bin:"*) ;;
  *)
    shown_bin=$prefix/bin
    [[ $shown_bin != "$HOME"/* ]] || shown_bin="\$HOME${shown_bin#"$HOME"}"
    case "${SHELL##*/}" in
      zsh) path_cmd="echo 'export PATH=\"$shown_bin:\$PATH\"' >> ~/.zshrc && exec zsh" ;;
      fish) path_cmd="fish -c 'fish_add_path $(sh_word "$prefix/bin")'" ;;
      bash|sh|dash|"") path_cmd="echo 'export PATH=\"$shown_bin:\$PATH\"' >> ~/.bashrc && exec bash" ;;
      *) path_cmd="add $prefix/bin to PATH in the startup file of ${SHELL##*/}" ;;
    esac
    say "$prefix/bin is not in your PATH; to run claude-key-refresher by name (${SHELL##*/}):"
    printf '    %s\n' "$path_cmd"
    ;;
esac
say "undo: $share/uninstall.sh   (--purge also removes the config and key file it wrote,"
say "  and the state dir)"

if [ -n "$problem" ] || [ "$no_config" = 1 ]; then
  say "settings.json was left as it was: Claude Code keeps working as it did before."
  if [ "$no_config" = 1 ]; then
    say "not set up: no config ($config) and ANTHROPIC_API_KEY is not set. Then run one of:"
    say "  an API key:      read -rs ANTHROPIC_API_KEY && export ANTHROPIC_API_KEY && $rerun"
    say "  a Claude Pro/Max subscription:  $rerun --subscription"
    say "  Vault, AWS Secrets Manager, a command, a key file: write $config"
    say "    from $prefix/share/doc/claude-key-helper/config.example.toml, check it with"
    say "    $refresher check-config, then: $rerun"
    exit 1
  fi
  printf 'install: error: %s\n' "$problem" >&2
  case "$problem" in
    *"has no login yet"*)
      say "next: log in with $refresher login --profile $profile (or log in to Claude Code,"
      say "  with claude, and let this adopt it), then: $rerun" ;;
    *"sink is off"*)
      say "next: add sinks = [\"claude-code\"] to [profile.$profile] in $config (or run"
      say "  $refresher import-claude-code --profile $profile), then: $rerun" ;;
    *)
      say "next: fix that (details: $refresher check-config; $refresher status --profile $profile),"
      say "  check it with $refresher once --profile $profile, then: $rerun" ;;
  esac
  exit 1
fi
if [ "$sink_ok" = 1 ]; then
  say "done: profile '$profile' keeps Claude Code's own login fresh (claude-code sink);"
  say "  apiKeyHelper stays unset, as a subscription needs. Just run claude."
elif [ "$registered" = 1 ]; then
  say "done: Claude Code gets its key from $helper_cmd. Just run claude."
  if [ -n "${ANTHROPIC_API_KEY:-}" ]; then
    # Claude Code sends ANTHROPIC_API_KEY instead of the helper's key when it is set.
    say "ANTHROPIC_API_KEY is set in this shell, and Claude Code prefers it to the helper:"
    say "  run 'unset ANTHROPIC_API_KEY' and remove it from your shell's startup file"
  fi
else
  say "done: profile '$profile' works; settings.json left alone (--no-register)."
fi
