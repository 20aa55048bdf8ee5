#!/usr/bin/env bash
# Installs every build and test dependency of claude-key-helper from Debian's packages.
# Idempotent: packages already present are left alone. Works as root or through sudo.
# Called by install/install.sh and tests/run.sh; safe to run by hand.
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config g++
  libcurl4-openssl-dev libsimdjson-dev libssl-dev libboost-dev libfmt-dev
  libtomlplusplus-dev libcli11-dev
  # tests
  catch2 clang-16 libclang-rt-16-dev clang-format git valgrind hyperfine python3 openssl
  util-linux procps systemd iproute2 strace
  # end-to-end tests: node runs the mock API and npm installs the pinned Claude Code client
  nodejs
)
# Debian's npm only when there is no npm at all: a Node.js from elsewhere (NodeSource's
# nodejs package) brings its own npm, which Debian's npm package would conflict with.
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#packages[@]} packages already installed"
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "deps: missing packages (${missing[*]}) and not root; run as root or install sudo" >&2
  exit 1
fi

echo "deps: installing ${missing[*]}"
"${sudo[@]}" apt-get update -q
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
