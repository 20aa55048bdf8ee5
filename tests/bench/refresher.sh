#!/usr/bin/env bash
# Benchmark of the refresher's start (issue 15), side by side in one run:
#   1. instructions (valgrind --tool=callgrind, startup included, deterministic) of
#      `once` with nothing due, of a forced command-backend `once`, of `curl --version`, of
#      the helper's cache hit and of the backend command alone;
#   2. the 401 round trip, in instructions summed over every process it runs: the helper
#      asked again early by its caller (a 401, shared/CLAUDE_CODE.md) with no daemon (the
#      helper runs `once` itself) and with a daemon (the helper's own plus the daemon's
#      share: its count over K round trips minus its count over none, divided by K),
#      against the backend alone; and the median wall time of each (informative only);
#   3. the daemon with 1, 10 and 100 command profiles: time from start to READY=1 (systemd's
#      notify protocol, on a socket of ours) and its resident set (VmRSS, and Pss) once
#      every profile has its first credential and the daemon is idle.
# Targets (issue 15): `once` with nothing due <= 3M instructions; the 401 round trip with
# no daemon costs at most 2x the daemon's plus the backend's own (N <= 2 D + B; D counts the
# daemon's run of the backend too, so the ratio of what each adds beyond the backend,
# (N - B) / (D - B), is printed beside it);
# idle RSS <= 8 MB with 1 profile and <= 10 MB with 100; READY within 100 ms at any count.
# Prints a table and the verdicts. Exit 1 when a target is missed; with --check, only the
# instruction figures are measured and judged (what `integration: refresher_instructions`
# runs: counts are deterministic, wall times and RSS are not asserted anywhere).
#
# Usage: tests/bench/refresher.sh [--check] [build dir with claude-key-refresher and
#   claude-key-helper, not sanitized]; default $CKH_BENCH_BUILD, else ./build.
set -euo pipefail

check_only=0
if [[ ${1:-} == --check ]]; then check_only=1; shift; fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source_dir=$(cd "$here/../.." && pwd)
build=${1:-${CKH_BENCH_BUILD:-$source_dir/build}}
refresher=$build/claude-key-refresher
helper=$build/claude-key-helper
for program in "$refresher" "$helper"; do
  [[ -x $program ]] || { echo "refresher.sh: no $program (build it first, Release)" >&2; exit 2; }
done
if readelf -d "$refresher" 2>/dev/null | grep -q 'libasan'; then
  echo "refresher.sh: $refresher is built with sanitizers: its counts would mean nothing" >&2
  exit 2
fi
missing=()
for tool in valgrind curl python3; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if ((${#missing[@]})); then
  echo "refresher.sh: needs ${missing[*]} (apt-get install valgrind curl python3)" >&2
  exit 77
fi
valgrind_bin=$(command -v valgrind)

tmp=$(mktemp -d)
daemon_pid=
cleanup() {
  [[ -n $daemon_pid ]] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

# One profile "default" on the command backend: the cheapest real backend, so that the
# refresher's own cost is what shows. A new credential at each run (the 401 test sees it).
backend=(/bin/date "+sk-ant-api03-bench-%s%N")
write_config() {  # write_config FILE PROFILES
  local file=$1 count=$2 i name
  : >"$file"
  for ((i = 0; i < count; i++)); do
    name=default; ((i == 0)) || name="p$i"
    printf '[profile.%s]\nbackend = "command"\nforce_min_interval = "1s"\n[profile.%s.command]\nargv = ["%s", "%s"]\nttl = "1h"\n' \
      "$name" "$name" "${backend[0]}" "${backend[1]}" >>"$file"
  done
}
state=$tmp/state
mkdir -m 700 "$state"
write_config "$tmp/config.toml" 1
# A small fixed environment for every program measured (its size changes startup costs).
base_env=(PATH=/usr/bin:/bin HOME="$tmp" CLAUDE_KEY_HELPER_STATE_DIR="$state"
  CLAUDE_KEY_HELPER_CONFIG="$tmp/config.toml" XDG_RUNTIME_DIR="$tmp/run"
  CLAUDE_KEY_REFRESHER="$refresher" CLAUDE_KEY_HELPER_WAIT_MS=120000)
mkdir -m 700 "$tmp/run"
run() { env -i "${base_env[@]}" "$@" </dev/null; }

run "$refresher" once --quiet || { echo "refresher.sh: the first refresh failed" >&2; exit 1; }

# total_instructions DIR: the sum of every callgrind output file's total in DIR.
total_instructions() {
  cat "$1"/cg.* | sed -n 's/^totals: *\([0-9][0-9]*\).*/\1/p' |
    awk '{ total += $1 } END { printf "%d\n", total }'
}
# instructions [--children] PROGRAM ARGS...: its total, startup included (and its
# children's with --children), run in base_env.
instructions() {
  local children=no
  if [[ $1 == --children ]]; then children=yes; shift; fi
  local out
  out=$(mktemp -d "$tmp/cg.XXXX")
  run "$valgrind_bin" --tool=callgrind --trace-children=$children --log-file=/dev/null \
    --callgrind-out-file="$out/cg.%p" "$@" >/dev/null 2>&1 || true
  total_instructions "$out"
}

# The 401: a caller (a process with CLAUDE_CODE_ENTRYPOINT in its environment, running the
# helper through /bin/sh -c as Claude Code does) runs the helper, then again at once, which
# is a 401; only the second run is measured (with every process it starts).
round_trip_401() {  # round_trip_401 OUTDIR
  local out=$1
  env -i "${base_env[@]}" CLAUDE_CODE_ENTRYPOINT=cli python3 - "$out" "$helper" "$valgrind_bin" <<'PY'
import subprocess, sys
out, helper, valgrind = sys.argv[1:4]
def run(command, name):
    with open(out + "/" + name, "w") as stdout, open(out + "/err", "a") as stderr:
        subprocess.run(["/bin/sh", "-c", command], stdin=subprocess.DEVNULL, stdout=stdout,
                       stderr=stderr)
run("'%s'" % helper, "first")
run("'%s' --tool=callgrind --trace-children=yes --log-file=/dev/null "
    "--callgrind-out-file='%s/cg.%%p' '%s'" % (valgrind, out, helper), "second")
PY
  if cmp -s "$out/first" "$out/second"; then
    echo "refresher.sh: the helper's 401 did not bring a new credential: $(head -c 300 "$out/err") $(tail -n 3 "$out/../log" 2>/dev/null)" >&2
    exit 1
  fi
}

echo "measuring instructions (callgrind)..." >&2
i_once=$(instructions "$refresher" once --quiet)
i_force=$(instructions "$refresher" once --force --quiet)
i_force_all=$(instructions --children "$refresher" once --force --quiet)
i_curl=$(instructions curl --version)
i_helper=$(instructions "$helper")
i_backend=$(instructions "${backend[@]}")

echo "measuring the 401 round trip without a daemon..." >&2
mkdir "$tmp/no-daemon"
sleep 2.1  # force_min_interval, counted in whole seconds
round_trip_401 "$tmp/no-daemon"
i_401_alone=$(total_instructions "$tmp/no-daemon")

# The daemon under callgrind (its children too): its count with K round trips, and with
# none over the same time (an idle daemon still polls its config file every 5 s).
daemon_instructions() {  # daemon_instructions ROUND_TRIPS [SECONDS] -> "total helpers seconds"
  local trips=$1 idle_for=${2:-0} out i began
  out=$(mktemp -d "$tmp/daemon.XXXX")
  env -i "${base_env[@]}" "$valgrind_bin" --tool=callgrind --trace-children=yes \
    --log-file=/dev/null --callgrind-out-file="$out/cg.%p" "$refresher" run \
    >"$out/log" 2>&1 </dev/null &
  daemon_pid=$!
  for ((i = 0; i < 600; i++)); do
    [[ -S $tmp/run/claude-key-helper/default.sock || -S $state/default.sock ]] && break
    sleep 0.1
  done
  sleep 1
  began=$SECONDS
  for ((i = 0; i < trips; i++)); do
    sleep 2.1  # force_min_interval, counted in whole seconds
    mkdir "$out/trip$i"
    round_trip_401 "$out/trip$i"
    cat "$out/trip$i"/cg.* >>"$out/helper.cg"
  done
  ((idle_for == 0)) || sleep "$idle_for"
  kill -TERM "$daemon_pid"
  wait "$daemon_pid" || true
  daemon_pid=
  echo "$(total_instructions "$out")" \
    "$(sed -n 's/^totals: *\([0-9][0-9]*\).*/\1/p' "$out/helper.cg" 2>/dev/null | awk '{t+=$1} END {printf "%d", t}')" \
    "$((SECONDS - began))"
}
echo "measuring the 401 round trip through a daemon (daemon under callgrind)..." >&2
trips=3
read -r d_busy d_helpers d_seconds <<<"$(daemon_instructions $trips)"
read -r d_idle _ _ <<<"$(daemon_instructions 0 "$d_seconds")"
# Per round trip: the helper's own run plus the daemon's extra work (and its backend's).
i_401_daemon=$(((d_busy - d_idle + d_helpers) / trips))

over_alone=$((i_401_alone - i_backend))
over_daemon=$((i_401_daemon - i_backend))

fmt() { printf "%'d" "$1"; }
echo
printf '%-52s %14s\n' "instructions (callgrind)" "count"
printf '%-52s %14s\n' "once, nothing due" "$(fmt "$i_once")"
printf '%-52s %14s\n' "once --force, command backend (refresher only)" "$(fmt "$i_force")"
printf '%-52s %14s\n' "once --force, with the backend it runs" "$(fmt "$i_force_all")"
printf '%-52s %14s\n' "curl --version" "$(fmt "$i_curl")"
printf '%-52s %14s\n' "claude-key-helper, cache hit" "$(fmt "$i_helper")"
printf '%-52s %14s\n' "the backend alone (${backend[0]})" "$(fmt "$i_backend")"
printf '%-52s %14s\n' "401 round trip, no daemon (all processes)" "$(fmt "$i_401_alone")"
printf '%-52s %14s\n' "401 round trip, daemon (helper + daemon's share)" "$(fmt "$i_401_daemon")"
printf '%-52s %14s\n' "  beyond the backend: no daemon" "$(fmt "$over_alone")"
printf '%-52s %14s\n' "  beyond the backend: daemon" "$(fmt "$over_daemon")"

verdicts=0
verdict() {  # verdict OK TEXT
  if (($1)); then echo "ok: $2"; else echo "MISSED: $2"; verdicts=1; fi
}
echo
verdict $((i_once <= 3000000)) "once with nothing due: $(fmt "$i_once") <= 3,000,000"
verdict $((i_401_alone <= 2 * i_401_daemon + i_backend)) \
  "401 without a daemon: $(fmt "$i_401_alone") <= 2 x the daemon's $(fmt "$i_401_daemon") + the backend's $(fmt "$i_backend")"
echo "   (beyond the backend alone: $(fmt "$over_alone") without a daemon, $(fmt "$over_daemon") with one: x$(python3 -c "print(round($over_alone / max($over_daemon, 1), 2))"))"
if ((check_only)); then exit "$verdicts"; fi

echo
echo "measuring the daemon: start to READY, idle RSS (1, 10, 100 profiles)..." >&2
printf '%-10s %12s %12s %12s %14s\n' "profiles" "READY ms" "VmRSS kB" "Pss kB" "401 wall ms"
for count in 1 10 100; do
  dir=$tmp/d$count
  mkdir -m 700 "$dir" "$dir/state" "$dir/run"
  write_config "$dir/config.toml" "$count"
  read -r ready_ms rss_kb pss_kb wall_ms < <(
    python3 - "$refresher" "$helper" "$dir" "$count" <<'PY'
import os, socket, subprocess, sys, time, statistics
refresher, helper, d, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
env = {"PATH": "/usr/bin:/bin", "HOME": d, "CLAUDE_KEY_HELPER_STATE_DIR": d + "/state",
       "CLAUDE_KEY_HELPER_CONFIG": d + "/config.toml", "XDG_RUNTIME_DIR": d + "/run",
       "CLAUDE_KEY_REFRESHER": refresher, "NOTIFY_SOCKET": d + "/notify"}
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(d + "/notify")
sock.settimeout(60)
start = time.monotonic()
daemon = subprocess.Popen([refresher, "run"], env=env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=open(d + "/daemon.log", "w"))
ready_ms = -1
while ready_ms < 0:
    if b"READY=1" in sock.recv(4096):
        ready_ms = (time.monotonic() - start) * 1000
names = ["default"] + ["p%d" % i for i in range(1, count)]
deadline = time.monotonic() + 120
while time.monotonic() < deadline and not all(
        os.path.exists("%s/state/%s.cred" % (d, n)) for n in names):
    time.sleep(0.1)
time.sleep(2)  # idle: every first refresh done
rss = pss = 0
for line in open("/proc/%d/status" % daemon.pid):
    if line.startswith("VmRSS:"):
        rss = int(line.split()[1])
try:
    for line in open("/proc/%d/smaps_rollup" % daemon.pid):
        if line.startswith("Pss:"):
            pss = int(line.split()[1])
except OSError:
    pass
# 401 round trips through this daemon, wall time (informative).
walls = []
caller_env = dict(env, CLAUDE_CODE_ENTRYPOINT="cli", CLAUDE_KEY_HELPER_WAIT_MS="60000")
caller_env.pop("NOTIFY_SOCKET")
subprocess.run([helper], env=caller_env, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
for _ in range(5):
    time.sleep(2.05)  # force_min_interval, counted in whole seconds
    t = time.monotonic()
    subprocess.run([helper], env=caller_env, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    walls.append((time.monotonic() - t) * 1000)
daemon.terminate()
daemon.wait(60)
print("%.1f %d %d %.1f" % (ready_ms, rss, pss, statistics.median(walls)))
PY
  )
  printf '%-10s %12s %12s %12s %14s\n' "$count" "$ready_ms" "$rss_kb" "$pss_kb" "$wall_ms"
  limit=$((count == 1 ? 8192 : 10240))
  ((count == 10)) || verdict $((rss_kb <= limit)) "idle RSS with $count profile(s): $rss_kb kB <= $limit kB"
  verdict "$(python3 -c "print(int($ready_ms <= 100))")" "READY with $count profile(s): $ready_ms ms <= 100 ms"
done
exit "$verdicts"
