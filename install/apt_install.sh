# shellcheck shell=bash
# apt_install_missing TAG PACKAGE...: installs the packages that are not installed yet
# (apt-get update first, --no-install-recommends), as root or through sudo; prints one line.
# Sourced by install/deps.sh and tests/deps.sh.
apt_install_missing() {
  local tag=$1 p missing=() sudo=()
  shift
  for p in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$p")
    fi
  done
  if [ ${#missing[@]} -eq 0 ]; then
    echo "$tag: all $# packages already installed"
    return 0
  fi
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      echo "$tag: missing packages (${missing[*]}) and not root; run as root or install sudo" >&2
      return 1
    fi
    sudo=(sudo)
  fi
  echo "$tag: installing ${missing[*]}"
  "${sudo[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends \
    "${missing[@]}"
}
