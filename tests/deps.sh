#!/usr/bin/env bash
# Installs what the TESTS need on top of the build dependencies (install/deps.sh, which this
# runs first), from Debian's packages. Idempotent; as root or through sudo.
#   tests/deps.sh [--print]     (--print: list the test-only packages, install nothing)
# Called by tests/run.sh; safe to run by hand.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

packages=(
  # unit tests, fuzzers (clang++-16: Debian's clang 14 cannot compile libstdc++ 12's
  # <expected>), the format test, the benchmark
  catch2 clang-16 libclang-rt-16-dev clang-format git valgrind hyperfine
  # integration tests: fake servers' TLS, process and namespace tools, a user manager
  openssl util-linux procps systemd iproute2 strace python3
  # the keyring tests: a real Secret Service (gnome-keyring) on a private session bus,
  # secret-tool to look at its items, python3-dbus to lock it
  gnome-keyring libsecret-tools dbus-daemon dbus-bin python3-dbus
  # end-to-end tests: node runs the mock API and npm installs the pinned Claude Code client
  nodejs
)
# Debian's npm only when there is no npm at all: a Node.js from elsewhere (NodeSource's
# nodejs package) brings its own npm, which Debian's npm package would conflict with.
command -v npm >/dev/null 2>&1 || packages+=(npm)

if [ "${1:-}" = --print ]; then printf '%s\n' "${packages[@]}"; exit 0; fi
if [ $# -gt 0 ]; then echo "usage: tests/deps.sh [--print]" >&2; exit 2; fi

bash "$here/../install/deps.sh"
# shellcheck source=install/apt_install.sh
source "$here/../install/apt_install.sh"
apt_install_missing test-deps "${packages[@]}"
