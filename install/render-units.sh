#!/usr/bin/env bash
# Renders the refresher's service definitions for one install prefix:
#   systemd/claude-key-refresher.service, claude-key-refresher-once.service,
#   claude-key-refresher-once.timer, cron/claude-key-refresher.crontab and
#   launchd/com.github.claude-key-helper.refresher.plist  ->  OUT/<same file name>
# Guarantees: the output differs from the shipped files only in where the binaries live
# (the shipped files are the rendering for the default prefix ~/.local, written with
# systemd's %h and the shell's $HOME; the plist's @BINDIR@/@HOME@ placeholders are always
# filled). Paths are escaped for each format: systemd specifiers/quoting and file: URLs,
# the crontab's shell and its %, XML. Writes files 0644; never touches anything else.
# Called by install/install.sh (systemd units) and tests/integration/install_units.sh;
# usable by hand:  install/render-units.sh --prefix /opt/ckh --out /tmp/units
#
# Usage: render-units.sh --prefix PREFIX --out DIR [--home HOME] [--only systemd|cron|launchd]...
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() {
  sed -n 's/^# Usage: //p' "${BASH_SOURCE[0]}" | sed 's/^/usage: /' >&2
  exit 2
}

prefix="" out="" home="${HOME:-}" only=()
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || usage; prefix=$2; shift 2 ;;
    --out) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
    --home) [ $# -ge 2 ] || usage; home=$2; shift 2 ;;
    --only) [ $# -ge 2 ] || usage; only+=("$2"); shift 2 ;;
    -h|--help) usage ;;
    *) echo "render-units: unknown argument '$1'" >&2; usage ;;
  esac
done
if [ -z "$prefix" ] || [ -z "$out" ]; then usage; fi
case "$prefix" in /*) ;; *) echo "render-units: --prefix must be an absolute path" >&2; exit 2 ;; esac
case "$prefix$home" in *$'\n'*) echo "render-units: paths must not contain newlines" >&2; exit 2 ;; esac
prefix=${prefix%/}
[ ${#only[@]} -gt 0 ] || only=(systemd cron launchd)
if [[ " ${only[*]} " == *" systemd "* && $prefix == *[\"\'\\]* ]]; then
  echo "render-units: systemd cannot run a program whose path contains quotes or" \
       "backslashes ($prefix); choose another prefix" >&2
  exit 1
fi

# Literal (not pattern) replacement of every occurrence of $2 by $3 in $1.
replace_all() {
  local s=$1 from=$2 to=$3 result=""
  while [[ $s == *"$from"* ]]; do
    result+="${s%%"$from"*}$to"
    s=${s#*"$from"}
  done
  printf '%s' "$result$s"
}

# An executable path as the first word of a systemd command line: % escaped (specifiers),
# quoted when it holds blanks. systemd does not expand $ there, and refuses quotes and
# backslashes in executable names outright (systemd-analyze: "special characters").
systemd_exec() {
  local p=$1
  p=$(replace_all "$p" '%' '%%')
  [[ $p != *[[:space:]]* ]] || p="\"$p\""
  printf '%s' "$p"
}

# A path as a file: URL inside a unit file (percent-encoded, then % escaped as a specifier).
systemd_file_url() {
  local LC_ALL=C p=$1 encoded="" c i
  for ((i = 0; i < ${#p}; i++)); do
    c=${p:i:1}
    case "$c" in
      [A-Za-z0-9/._~-]) encoded+=$c ;;
      *) encoded+=$(printf '%%%02X' "'$c") ;;
    esac
  done
  replace_all "file:$encoded" '%' '%%'
}

# A path as one /bin/sh word inside a crontab line (% is special to cron).
cron_word() {
  local p=$1
  if [[ ! $p =~ ^[A-Za-z0-9/._+-]+$ ]]; then
    p="'$(replace_all "$p" "'" "'\\''")'"
  fi
  replace_all "$p" '%' '\%'
}

xml_text() {
  local p=$1
  p=$(replace_all "$p" '&' '&amp;')
  p=$(replace_all "$p" '<' '&lt;')
  replace_all "$p" '>' '&gt;'
}

default_prefix=0
[ -n "$home" ] && [ "$prefix" = "${home%/}/.local" ] && default_prefix=1

mkdir -p "$out"
render() {  # render SRC DST FROM TO [FROM TO]...
  local src=$1 dst=$2 text
  shift 2
  text=$(<"$src")
  while [ $# -gt 0 ]; do
    text=$(replace_all "$text" "$1" "$2")
    shift 2
  done
  printf '%s\n' "$text" >"$dst.tmp.$$"
  chmod 0644 "$dst.tmp.$$"
  mv -f "$dst.tmp.$$" "$dst"
}

for what in "${only[@]}"; do
  case "$what" in
    systemd)
      for unit in claude-key-refresher.service claude-key-refresher-once.service \
                  claude-key-refresher-once.timer; do
        if [ "$default_prefix" = 1 ]; then
          render "$here/systemd/$unit" "$out/$unit"
        else
          render "$here/systemd/$unit" "$out/$unit" \
            "ExecStart=%h/.local/bin/claude-key-refresher" \
            "ExecStart=$(systemd_exec "$prefix/bin/claude-key-refresher")" \
            "ExecReload=%h/.local/bin/claude-key-refresher" \
            "ExecReload=$(systemd_exec "$prefix/bin/claude-key-refresher")" \
            "file:%h/.local/share/doc/claude-key-helper/README.md" \
            "$(systemd_file_url "$prefix/share/doc/claude-key-helper/README.md")"
        fi
      done
      ;;
    cron)
      if [ "$default_prefix" = 1 ]; then
        render "$here/cron/claude-key-refresher.crontab" "$out/claude-key-refresher.crontab"
      else
        # shellcheck disable=SC2016  # the literal text of the shipped crontab line
        render "$here/cron/claude-key-refresher.crontab" "$out/claude-key-refresher.crontab" \
          '"$HOME/.local/bin/claude-key-refresher" once' \
          "$(cron_word "$prefix/bin/claude-key-refresher") once"
      fi
      ;;
    launchd)
      [ -n "$home" ] || { echo "render-units: HOME unknown; pass --home" >&2; exit 2; }
      render "$here/launchd/com.github.claude-key-helper.refresher.plist" \
        "$out/com.github.claude-key-helper.refresher.plist" \
        "<string>@BINDIR@" "<string>$(xml_text "$prefix/bin")" \
        "<string>@HOME@" "<string>$(xml_text "${home%/}")"
      ;;
    *) echo "render-units: --only takes systemd, cron or launchd, not '$what'" >&2; exit 2 ;;
  esac
done
