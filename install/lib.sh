# Functions shared by install.sh and uninstall.sh (sourced; installed beside them).

# refresher_pid PIDFILE: prints the pid when PIDFILE names a live claude-key-refresher
# (not just any process that reused the pid).
refresher_pid() {
  local pid exe
  [ -f "$1" ] || return 1
  pid=$(head -c 32 "$1" | tr -dc 0-9)
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null || ps -o args= -p "$pid" 2>/dev/null || true)
  case "$exe" in *claude-key-refresher*) printf '%s' "$pid" ;; *) return 1 ;; esac
}
