#!/usr/bin/env bash
# The command-line conventions operators expect from both binaries (issue 11, item 10):
#  - `--help` prints on stdout, nothing on stderr, exit 0 (also `<command> --help`);
#  - `--version` prints "<program> <version>" with CMake's project(VERSION), exit 0;
#  - the refresher takes `--config`/`-c` before the command as well as after it;
#  - a mistyped command gives "unknown command 'statsu'; did you mean 'status'?", exit 64
#    (no CLI11 "A subcommand is required"); no command at all names the commands, exit 64;
#  - the man pages, when the build made them (help2man), are generated from that --help
#    text and carry the same version.
# Runs only the built binaries in a private temp HOME; no network, no daemon.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/lib_checks.sh
source "$here/lib_checks.sh"

helper=${CKH_HELPER:?set by ctest}
refresher=${CKH_REFRESHER:?set by ctest}
src=${CKH_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
build=${CKH_BUILD_DIR:-}
private_tmp cli-conventions
export HOME=$T/home XDG_CONFIG_HOME=$T/home/.config XDG_STATE_HOME=$T/home/.local/state
mkdir -p "$HOME"
unset ANTHROPIC_API_KEY CLAUDE_KEY_HELPER_CONFIG CLAUDE_KEY_HELPER_STATE_DIR CLAUDE_KEY_HELPER_PROFILE

# The version CMake's project() declares: the one source of truth.
version=$(sed -n 's/^project(claude-key-helper VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
[ -n "$version" ] || { echo "FAIL: no project(... VERSION x.y.z) in $src/CMakeLists.txt" >&2; exit 1; }

# run NAME CMD...: stdout in $T/NAME.out, stderr in $T/NAME.err, exit code in rc.
run() {
  local name=$1
  shift
  rc=0
  "$@" >"$T/$name.out" 2>"$T/$name.err" </dev/null || rc=$?
}

# --- --help and --version ------------------------------------------------------------------
for prog in "$helper" "$refresher"; do
  name=$(basename "$prog")
  run help "$prog" --help
  expect_eq "$name --help exits 0" 0 "$rc"
  [ -s "$T/help.out" ] && grep -qi 'usage' "$T/help.out" && pass "$name --help prints a usage on stdout" ||
    fail "$name --help printed no usage on stdout: $(head -c 300 "$T/help.out")"
  [ ! -s "$T/help.err" ] && pass "$name --help: nothing on stderr" ||
    fail "$name --help wrote on stderr: $(head -c 300 "$T/help.err")"

  run version "$prog" --version
  expect_eq "$name --version exits 0" 0 "$rc"
  expect_eq "$name --version prints the project version" "$name $version" "$(cat "$T/version.out")"
  [ ! -s "$T/version.err" ] || fail "$name --version wrote on stderr: $(head -c 300 "$T/version.err")"
done
run help-status "$refresher" status --help
expect_eq "refresher status --help exits 0" 0 "$rc"
grep -q -- '--config' "$T/help-status.out" && pass "status --help on stdout names --config" ||
  fail "status --help: $(head -c 300 "$T/help-status.out")"
# The usage names the program, not the path it was started by.
grep -q "$(dirname "$refresher")" "$T/help-status.out" &&
  fail "refresher --help shows the build path: $(grep -m1 -i usage "$T/help-status.out")" ||
  pass "refresher --help names the program, not its path"

# --- --config before or after the command --------------------------------------------------
cat >"$T/good.toml" <<'EOF'
[profile.default]
backend = "static"
[profile.default.static]
env = "CKH_CLI_CONVENTIONS_UNSET_VARIABLE"
EOF
printf '[profile.default]\nbackend = "nope"\n' >"$T/bad.toml"
for where in after before; do
  for file in good bad; do
    for flag in --config -c; do
      if [ "$where" = after ]; then
        run "cfg-$where-$file" "$refresher" check-config "$flag" "$T/$file.toml"
      else
        run "cfg-$where-$file" "$refresher" "$flag" "$T/$file.toml" check-config
      fi
      want=0
      [ "$file" = good ] || want=78
      expect_eq "check-config with $flag $where the command ($file config)" "$want" "$rc"
      if [ "$file" = bad ]; then
        grep -q "bad.toml:2:" "$T/cfg-$where-$file.err" &&
          pass "$flag $where the command: the problem names the file given" ||
          fail "$flag $where: $(cat "$T/cfg-$where-$file.err")"
      fi
    done
  done
done
run cfg-eq "$refresher" --config="$T/bad.toml" check-config
expect_eq "--config=FILE before the command" 78 "$rc"
run status-before "$refresher" --config "$T/good.toml" status
[ "$rc" != 64 ] && pass "--config before status is accepted (exit $rc)" ||
  fail "--config before status: exit 64: $(cat "$T/status-before.err")"

# --- a mistyped or missing command ---------------------------------------------------------
run typo "$refresher" statsu
expect_eq "unknown command exits 64" 64 "$rc"
expect_eq "unknown command: the message" \
  "claude-key-refresher: unknown command 'statsu'; did you mean 'status'?" "$(head -n1 "$T/typo.err")"
grep -q 'A subcommand is required' "$T/typo.err" && fail "CLI11's message is still shown" || true
run typo2 "$refresher" --config "$T/good.toml" chek-config --json
expect_eq "unknown command after --config exits 64" 64 "$rc"
expect_eq "unknown command after --config: the message" \
  "claude-key-refresher: unknown command 'chek-config'; did you mean 'check-config'?" "$(head -n1 "$T/typo2.err")"
run far "$refresher" frobnicate
expect_eq "a command nothing like any other exits 64" 64 "$rc"
grep -q "unknown command 'frobnicate'" "$T/far.err" && grep -q 'status' "$T/far.err" &&
  pass "a far-off command lists the commands" || fail "far-off command: $(cat "$T/far.err")"
grep -q 'did you mean' "$T/far.err" && fail "suggested something for frobnicate: $(cat "$T/far.err")" || true
run none "$refresher"
expect_eq "no command exits 64" 64 "$rc"
grep -q 'A subcommand is required' "$T/none.err" && fail "no command: CLI11's message: $(cat "$T/none.err")" ||
  pass "no command: $(head -n1 "$T/none.err")"
[ "$(wc -l <"$T/none.err")" -le 2 ] || fail "no command: more than two lines: $(cat "$T/none.err")"

run helper-bad "$helper" --verison
expect_eq "helper: unknown flag still exits 64" 64 "$rc"

# --- reload with no daemon: unavailable (69), as status says, with what to start ------------
XDG_RUNTIME_DIR=$T/run run reload-none "$refresher" reload
expect_eq "reload with no daemon exits 69" 69 "$rc"
grep -q "no running claude-key-refresher daemon found; start one" "$T/reload-none.err" &&
  pass "reload with no daemon says to start one" || fail "reload-none: $(cat "$T/reload-none.err")"

# --- man pages (built by help2man from the same --help) ------------------------------------
if [ -n "$build" ] && [ -d "$build/man" ]; then
  for name in claude-key-helper claude-key-refresher; do
    page=$build/man/$name.1
    if [ ! -s "$page" ]; then fail "no man page $page"; continue; fi
    grep -q "^\.TH \"*$(echo "$name" | tr a-z A-Z)\"* \"*1\"*" "$page" && pass "$name.1 is a section-1 page" ||
      fail "$name.1: $(head -n3 "$page")"
    grep -q "$version" "$page" && pass "$name.1 carries version $version" || fail "$name.1 lacks $version"
  done
  grep -q 'check\\-config' "$build/man/claude-key-refresher.1" && grep -q 'pid\\-file' "$build/man/claude-key-refresher.1" &&
    pass "the refresher's man page documents its commands' options" ||
    fail "claude-key-refresher.1 lacks the commands' options"
  grep -q 'CLAUDE_CODE_API_KEY_HELPER_TTL_MS' "$build/man/claude-key-helper.1" &&
    pass "the helper's man page has its --help text" || fail "claude-key-helper.1 lacks the --help text"
elif command -v help2man >/dev/null; then
  fail "help2man is installed but the build made no man pages (${build:-no build dir}/man)"
fi

finish
