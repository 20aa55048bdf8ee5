#!/usr/bin/env bash
# Benchmark: what secret_store = "keyring" costs a refresh. A forced `once` of an
# anthropic-oauth profile against the fake token server (a rotation each time: load the
# state, the token request, save the rotated state, publish), with secret_store = "file"
# and with "keyring" (gnome-keyring on a private session bus, as tests/integration/
# keyring_store.sh runs it), timed pair by pair with hyperfine. Prints the table; a figure,
# never a verdict (exits 0 unless it cannot run: 77 when a tool is missing).
# Usage: tests/bench/secret_store.sh   (CKH_REFRESHER / CKH_HELPER: the binaries; default
# <build>/claude-key-* with <build> = $CKH_BUILD_DIR or ./build-tests). CKH_BENCH_RUNS (30).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source_dir=$(cd "$here/../.." && pwd)
build_dir=${CKH_BUILD_DIR:-$source_dir/build-tests}
export CKH_REFRESHER=${CKH_REFRESHER:-$build_dir/claude-key-refresher}
export CKH_HELPER=${CKH_HELPER:-$build_dir/claude-key-helper}
export CKH_TESTS_DIR=$source_dir/tests
runs=${CKH_BENCH_RUNS:-30}
for tool in hyperfine gnome-keyring-daemon dbus-run-session dbus-update-activation-environment node; do
  command -v "$tool" >/dev/null 2>&1 || { echo "secret_store.sh: needs $tool (tests/deps.sh installs it)" >&2; exit 77; }
done
if [ -z "${CKH_KEYRING_BUS:-}" ]; then
  exec dbus-run-session -- env CKH_KEYRING_BUS=1 bash "$0" "$@"
fi
. "$source_dir/tests/integration/lib.sh"
. "$source_dir/tests/integration/lib_oauth.sh"
unset XDG_RUNTIME_DIR
dbus-update-activation-environment HOME="$HOME" XDG_DATA_HOME="$HOME/.local/share" XDG_CACHE_HOME="$HOME/.cache"
eval "$(printf 'bench-password' | gnome-keyring-daemon --replace --unlock --components=secrets 2>/dev/null)"
start_token_server
control '{"expires_in": 3600}'
export CLAUDE_CONFIG_DIR="$T/claude"
mkdir -p -m 700 "$CLAUDE_CONFIG_DIR"
printf '{}' | fake_post /__seed >"$T/seed.json"
write_store "$CLAUDE_CONFIG_DIR/.credentials.json" <"$T/seed.json"
rm -f "$T/seed.json"
lines='force_min_interval = "1s"'
for store in file keyring; do
  mkdir -p -m 700 "$T/state-$store"
  write_oauth_config "$T/cfg-$store.toml" "secret_store = \"$store\"
$lines"
done
# One family, imported into the file profile; the keyring profile gets its own family.
CLAUDE_KEY_HELPER_STATE_DIR="$T/state-file" CLAUDE_KEY_HELPER_CONFIG="$T/cfg-file.toml" \
  "$CKH_REFRESHER" import-claude-code --profile max >/dev/null
printf '{}' | fake_post /__seed >"$T/seed2.json"
write_store "$CLAUDE_CONFIG_DIR/.credentials.json" <"$T/seed2.json"
rm -f "$T/seed2.json"
CLAUDE_KEY_HELPER_STATE_DIR="$T/state-keyring" CLAUDE_KEY_HELPER_CONFIG="$T/cfg-keyring.toml" \
  "$CKH_REFRESHER" import-claude-code --profile max >/dev/null
[ -f "$T/state-keyring/max.keyring" ] || { echo "secret_store.sh: the keyring profile did not store in the keyring" >&2; exit 1; }
echo "a forced refresh (rotation) of an anthropic-oauth profile, $runs runs each:"
hyperfine -N --warmup 3 --runs "$runs" --export-markdown "$T/table.md" \
  -n file "env CLAUDE_KEY_HELPER_STATE_DIR=$T/state-file CLAUDE_KEY_HELPER_CONFIG=$T/cfg-file.toml $CKH_REFRESHER once --force --quiet --profile max" \
  -n keyring "env CLAUDE_KEY_HELPER_STATE_DIR=$T/state-keyring CLAUDE_KEY_HELPER_CONFIG=$T/cfg-keyring.toml $CKH_REFRESHER once --force --quiet --profile max" \
  >"$T/hyperfine.out" 2>&1 || { cat "$T/hyperfine.out" >&2; exit 1; }
cat "$T/table.md"
grep -A2 'Summary' "$T/hyperfine.out" || true
read -r revoked reuse < <(stats families_revoked reuse_events)
echo "fake token server: families revoked $revoked, reuse events $reuse"
