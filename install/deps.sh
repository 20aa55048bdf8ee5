#!/usr/bin/env bash
# Installs what BUILDING claude-key-helper needs (and the installer's own python3), from
# Debian's packages, and nothing else: the test tool chain (clang-16, Catch2, valgrind,
# node, ...) is tests/deps.sh's. Idempotent: packages already present are left alone.
# Works as root or through sudo.
#   install/deps.sh [--print]     (--print: list the packages, one a line, install nothing)
# Called by install/install.sh and tests/deps.sh; safe to run by hand.
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config g++
  libcurl4-openssl-dev libsimdjson-dev libssl-dev libboost-dev libfmt-dev
  libtomlplusplus-dev libcli11-dev nlohmann-json3-dev
  # secret_store = "keyring" (the Secret Service through libsecret)
  libsecret-1-dev
  # man pages, generated from each binary's --help at build time
  help2man
  # install.sh registers the helper in Claude Code's settings.json with a Python script
  python3
)

if [ "${1:-}" = --print ]; then printf '%s\n' "${packages[@]}" | awk '!seen[$0]++'; exit 0; fi
if [ $# -gt 0 ]; then echo "usage: install/deps.sh [--print]" >&2; exit 2; fi

# shellcheck source=install/apt_install.sh
source "$(dirname "${BASH_SOURCE[0]}")/apt_install.sh"
apt_install_missing deps "${packages[@]}"
