#!/usr/bin/env bash
# Proves, under real concurrency, the refresher's single-flight and the record's atomicity
# (DESIGN.md "Locking", record.h, refresh.h):
#  1. No torn or corrupt read: every helper call, while other processes keep replacing
#     P.cred, exits 0 with nothing on stderr and prints exactly one well-formed key and a
#     newline; every direct read of P.cred is a complete, well-formed record.
#  2. Nothing goes backwards: the command backend embeds a counter (incremented under its
#     own flock) in each key, so each reader checks the counter it sees never decreases;
#     the P.cred reader checks generations never decrease and that one generation always
#     names one credential.
#  3. Single-flight: the backend logs "start <ns> <id>" / "end <ns> <id>" around a 50 ms
#     sleep; the intervals of all invocations must be pairwise disjoint (max overlap 1).
#     Without the profile lock, three forced refreshers would overlap at once.
# Phase 1: 3 loops of `once --force`, 4 helper loops that only read, 1 helper loop whose
#   TTL forces it to ask for a refresh (the helper runs `once --helper-request` itself),
#   and 1 loop reading P.cred directly.
# Phase 2: the same with a daemon (`run`) serving the socket: 2 `once --force` loops, a
#   `signal` loop, 3 reading helpers, 1 helper that asks the daemon for refreshes.
# Each phase lasts CKH_CONCURRENCY_SECONDS (default 15). Prints the counts at the end.
set -euo pipefail

helper=${CKH_HELPER:?CKH_HELPER must name claude-key-helper (set by ctest)}
refresher=${CKH_REFRESHER:?CKH_REFRESHER must name claude-key-refresher (set by ctest)}
seconds=${CKH_CONCURRENCY_SECONDS:-15}
command -v flock >/dev/null || { echo "skipped: flock (util-linux) not installed"; exit 77; }

tmp=$(mktemp -d)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [[ -f $tmp/daemon.pid ]]; then kill "$(cat "$tmp/daemon.pid")" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  if [[ ${CKH_KEEP_TMP:-} == 1 ]]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

export HOME="$tmp/home" XDG_CONFIG_HOME="$tmp/home/.config" XDG_STATE_HOME="$tmp/home/.local/state"
export CLAUDE_KEY_HELPER_STATE_DIR="$tmp/state" CLAUDE_KEY_HELPER_CONFIG="$tmp/config.toml"
export CLAUDE_KEY_REFRESHER="$refresher"
unset CLAUDE_KEY_HELPER_PROFILE CLAUDE_CODE_ENTRYPOINT CLAUDE_CODE_API_KEY_HELPER_TTL_MS \
  CLAUDE_KEY_HELPER_MARGIN_MS CLAUDE_KEY_HELPER_WAIT_MS ANTHROPIC_API_KEY JOURNAL_STREAM NOTIFY_SOCKET
mkdir -p "$HOME"
state="$tmp/state"
cred="$state/default.cred"
log="$tmp/backend.log"
failures="$tmp/failures"
: >"$failures"

# ---- the overlap checker, and a self-test of it on synthetic logs --------------------------
# Reads "start <ns> <id>" / "end <ns> <id>" lines; prints "<invocations> <max_overlap>
# <unmatched>"; an end at the same ns as a start counts as before it.
analyse_log() {
  awk '$1 == "start" { s[$3] = $2 } $1 == "end" { e[$3] = $2 }
       END { for (id in s) { if (id in e) { print s[id], 1, id; print e[id], 0, id } else { print "unmatched", id > "/dev/stderr" } } }' \
    "$1" 2>"$1.unmatched" |
    sort -k1,1n -k2,2n |
    awk -v unmatched="$(wc -l <"$1.unmatched")" '
      $2 == 1 { active++; n++; if (active > max) max = active; if (active > 1) print "overlap: " $3 > "/dev/stderr" }
      $2 == 0 { active-- }
      END { print n + 0, max + 0, unmatched + 0 }'
}
printf 'start 100 a\nend 200 a\nstart 200 b\nend 300 b\nstart 301 c\nend 400 c\n' >"$tmp/selftest_ok.log"
printf 'start 100 a\nstart 150 b\nend 200 a\nend 300 b\nstart 250 c\nend 260 c\nstart 500 d\n' >"$tmp/selftest_bad.log"
[[ $(analyse_log "$tmp/selftest_ok.log" 2>/dev/null) == "3 1 0" ]] || { echo "FAIL: overlap checker self-test (disjoint log)"; exit 1; }
[[ $(analyse_log "$tmp/selftest_bad.log" 2>/dev/null) == "3 2 1" ]] || { echo "FAIL: overlap checker self-test (overlapping log): $(analyse_log "$tmp/selftest_bad.log" 2>&1)"; exit 1; }

# ---- the backend: logs its interval, hands out counter-stamped keys ------------------------
cat >"$tmp/backend.sh" <<EOF
#!/usr/bin/env bash
set -euo pipefail
dir='$tmp'
started=\${EPOCHREALTIME/./}000
exec 8>>"\$dir/counter.lock"
flock 8
read -r n <"\$dir/counter"
n=\$((n + 1))
printf '%s\n' "\$n" >"\$dir/counter"
flock -u 8
note() { flock 9; printf '%s %s %s\n' "\$1" "\$2" "\$3" >&9; flock -u 9; } 9>>"\$dir/backend.log"
note start "\$started" "\$n"
sleep 0.05
note end "\${EPOCHREALTIME/./}000" "\$n"
printf 'ckh-conc-%08d-%08x%08x\n' "\$n" "\$SRANDOM" "\$SRANDOM"
EOF
chmod 700 "$tmp/backend.sh"
echo 0 >"$tmp/counter"
: >"$log"
cat >"$tmp/config.toml" <<EOF
[profile.default]
backend = "command"
[profile.default.command]
argv = ["$tmp/backend.sh"]
timeout = "10s"
ttl = "1h"
EOF

key_re=$'^ckh-conc-([0-9]{8})-[0-9a-f]{16}\n$'
record_re=$'^claude-key-helper-cred v2\ngeneration: ([0-9]+)\nbackend: command\nsource: [^\n]*\nsource_fingerprint: [0-9a-f]+\nfetched_at: [0-9]+\nexpires_at: [0-9]+\ncredential: ckh-conc-([0-9]{8})-[0-9a-f]{16}\nend\n$'

note_failure() {  # note_failure <worker> <message> [file with the evidence]
  {
    flock 7  # loops fail concurrently: keep each report in one piece
    printf '%s: %s\n' "$1" "$2"
    if [[ -n ${3:-} && -f $3 ]]; then head -n 12 "$3" | cut -c1-240 | sed 's/^/    | /'; fi
  } 7>>"$failures" >>"$failures"
  return 0
}

# ---- the loops -------------------------------------------------------------------------
# Each writes its count to $tmp/<name>.count and stops at its first failure.
writer() {  # writer <name> <deadline>
  local name=$1 deadline=$2 n=0 rc
  while ((EPOCHSECONDS < deadline)); do
    rc=0
    "$refresher" once --force --quiet >"$tmp/$name.out" 2>"$tmp/$name.err" || rc=$?
    if ((rc != 0)) || [[ -s $tmp/$name.out || -s $tmp/$name.err ]]; then
      note_failure "$name" "once --force --quiet exited $rc (stdout $(wc -c <"$tmp/$name.out") bytes, stderr:)" "$tmp/$name.err"
      break
    fi
    n=$((n + 1))
  done
  echo "$n" >"$tmp/$name.count"
}

signaller() {  # signaller <name> <deadline>: forced refreshes through the daemon
  local name=$1 deadline=$2 n=0 rc
  while ((EPOCHSECONDS < deadline)); do
    rc=0
    "$refresher" signal --profile default >"$tmp/$name.out" 2>"$tmp/$name.err" || rc=$?
    if ((rc != 0)) || [[ -s $tmp/$name.err ]] || ! grep -qE '^default: refreshed \(generation [0-9]+\)$' "$tmp/$name.out"; then
      note_failure "$name" "signal exited $rc; stderr:" "$tmp/$name.err"
      break
    fi
    n=$((n + 1))
  done
  echo "$n" >"$tmp/$name.count"
}

reader() {  # reader <name> <deadline> [ttl_ms]: runs the helper, checks every output
  local name=$1 deadline=$2 ttl_ms=${3:-} n=0 rc last=0 seen output
  local out="$tmp/$name.out" err="$tmp/$name.err"
  while ((EPOCHSECONDS < deadline)); do
    rc=0
    if [[ -n $ttl_ms ]]; then
      CLAUDE_CODE_API_KEY_HELPER_TTL_MS=$ttl_ms "$helper" >"$out" 2>"$err" || rc=$?
    else
      "$helper" >"$out" 2>"$err" || rc=$?
    fi
    n=$((n + 1))
    output=
    IFS= read -r -d '' output <"$out" || true
    if ((rc != 0)) || [[ -s $err ]]; then
      note_failure "$name" "helper call $n exited $rc; stderr:" "$err"
      break
    fi
    if ! [[ $output =~ $key_re ]]; then
      note_failure "$name" "helper call $n printed a malformed or torn key ($(wc -c <"$out") bytes):" "$out"
      break
    fi
    seen=$((10#${BASH_REMATCH[1]}))
    if ((seen < last)); then
      note_failure "$name" "went backwards: key #$seen after key #$last"
      break
    fi
    last=$seen
  done
  echo "$n" >"$tmp/$name.count"
}

record_reader() {  # record_reader <name> <deadline>: reads P.cred itself
  local name=$1 deadline=$2 n=0 text generation counter last_generation=0 last_counter=0
  local -A counter_of=()
  while ((EPOCHSECONDS < deadline)); do
    text=
    IFS= read -r -d '' text <"$cred" || true
    n=$((n + 1))
    if ! [[ $text =~ $record_re ]]; then
      printf '%s' "$text" >"$tmp/$name.bad"
      note_failure "$name" "read $n of P.cred is not a complete, well-formed record:" "$tmp/$name.bad"
      break
    fi
    generation=${BASH_REMATCH[1]}
    counter=$((10#${BASH_REMATCH[2]}))
    if ((generation < last_generation || counter < last_counter)); then
      note_failure "$name" "P.cred went backwards: generation $generation (key #$counter) after $last_generation (key #$last_counter)"
      break
    fi
    if [[ -n ${counter_of[$generation]:-} && ${counter_of[$generation]} != "$counter" ]]; then
      note_failure "$name" "generation $generation named two credentials (keys #${counter_of[$generation]} and #$counter)"
      break
    fi
    counter_of[$generation]=$counter
    last_generation=$generation
    last_counter=$counter
  done
  echo "$n" >"$tmp/$name.count"
}

sum_counts() {  # sum_counts <glob pattern relative to $tmp>
  local total=0 file
  for file in "$tmp"/$1.count; do
    [[ -f $file ]] && total=$((total + $(<"$file")))
  done
  echo "$total"
}

wait_loops() {
  local pid
  for pid in "${pids[@]}"; do wait "$pid" || true; done
  pids=()
}

# Helper-started refreshers may outlive the helper that gave up waiting: let every backend
# invocation that started finish before the log is judged (bounded).
wait_backends_finished() {
  local until=$((EPOCHSECONDS + 20)) starts ends
  while ((EPOCHSECONDS < until)); do
    starts=$(grep -c '^start ' "$log" || true)
    ends=$(grep -c '^end ' "$log" || true)
    ((starts == ends)) && return 0
    sleep 0.1
  done
}

# ---- phase 1: no daemon -------------------------------------------------------------------
rc=0
"$refresher" once --quiet >"$tmp/prime.out" 2>&1 || rc=$?
if ((rc != 0)) || [[ ! -f $cred ]]; then
  echo "FAIL: the first refresh did not publish a record (exit $rc):"
  cat "$tmp/prime.out"
  exit 1
fi

echo "phase 1: 3 x once --force, 4 reading helpers, 1 refreshing helper, 1 P.cred reader, ${seconds}s"
deadline=$((EPOCHSECONDS + seconds))
for i in 1 2 3; do writer "p1_writer$i" "$deadline" & pids+=($!); done
for i in 1 2 3 4; do reader "p1_reader$i" "$deadline" & pids+=($!); done
# need_until = now + 3600 s + margin > expires_at: every call of this one asks for a refresh.
reader p1_refreshing_reader "$deadline" 3600000 & pids+=($!)
record_reader p1_record_reader "$deadline" & pids+=($!)
wait_loops
wait_backends_finished
p1_refreshes=$(grep -c '^end ' "$log" || true)

# ---- phase 2: with a daemon ---------------------------------------------------------------
echo "phase 2: daemon + 2 x once --force, 1 x signal, 3 reading helpers, 1 helper asking the daemon, 1 P.cred reader, ${seconds}s"
"$refresher" run --pid-file "$tmp/daemon.pid" 2>"$tmp/daemon.log" &
daemon=$!
pids+=("$daemon")
until_ready=$((EPOCHSECONDS + 15))
while [[ ! -S $state/default.sock ]] && ((EPOCHSECONDS < until_ready)); do
  kill -0 "$daemon" 2>/dev/null || break
  sleep 0.05
done
daemon_refreshes=0
if [[ ! -S $state/default.sock ]]; then
  note_failure daemon "the daemon did not start listening on $state/default.sock; its log:" "$tmp/daemon.log"
else
  pids=()
  deadline=$((EPOCHSECONDS + seconds))
  for i in 1 2; do writer "p2_writer$i" "$deadline" & pids+=($!); done
  signaller p2_signal "$deadline" & pids+=($!)
  for i in 1 2 3; do reader "p2_reader$i" "$deadline" & pids+=($!); done
  reader p2_refreshing_reader "$deadline" 3600000 & pids+=($!)
  record_reader p2_record_reader "$deadline" & pids+=($!)
  wait_loops
  kill -TERM "$daemon"
  daemon_rc=0
  wait "$daemon" || daemon_rc=$?
  wait_backends_finished
  if ((daemon_rc != 0)); then note_failure daemon "run exited $daemon_rc after SIGTERM; its log:" "$tmp/daemon.log"; fi
  if grep -qE 'refresh failed|warning|error|Sanitizer|runtime error' "$tmp/daemon.log"; then
    grep -E 'refresh failed|warning|error|Sanitizer|runtime error' "$tmp/daemon.log" >"$tmp/daemon.problems"
    note_failure daemon "the daemon logged problems:" "$tmp/daemon.problems"
  fi
  daemon_refreshes=$(grep -cE '(forced|expiring|due|suspected-401) refresh: refreshed' "$tmp/daemon.log" || true)
fi

# ---- verdict --------------------------------------------------------------------------------
read -r invocations max_overlap unmatched < <(analyse_log "$log" 2>"$tmp/overlaps")
if ((max_overlap > 1)); then
  note_failure backend "$(grep -c overlap "$tmp/overlaps") backend invocation(s) overlapped another (max $max_overlap at once): the profile lock did not serialise them" "$tmp/overlaps"
fi
if ((unmatched > 0)); then
  note_failure backend "$unmatched backend invocation(s) started and never finished"
fi

refreshes=$invocations
reads=$(sum_counts 'p?_*reader*')
helper_reads=$(( $(sum_counts 'p?_reader?') + $(sum_counts 'p?_refreshing_reader') ))
record_reads=$(sum_counts 'p?_record_reader')
writes=$(sum_counts 'p?_writer?')
signals=$(sum_counts 'p2_signal')
counter=$(<"$tmp/counter")

echo "backend invocations (refreshes): $refreshes (phase 1: $p1_refreshes, phase 2: $((refreshes - p1_refreshes)), by the daemon: $daemon_refreshes)"
echo "once --force runs: $writes, signal runs: $signals"
echo "reads: $reads ($helper_reads helper calls, $record_reads direct P.cred reads)"
echo "max overlap of backend invocations: $max_overlap (must be 1)"
echo "last key handed out: #$counter"

# Guard against a vacuous pass: the loops must really have run.
((refreshes >= 10)) || note_failure setup "only $refreshes backend invocations: the writers did not run"
((helper_reads >= 20)) || note_failure setup "only $helper_reads helper calls: the readers did not run"
((daemon_refreshes >= 1)) || note_failure setup "the daemon never refreshed: phase 2 did not exercise it"
((refreshes == counter)) || note_failure backend "the backend ran $counter times but logged $refreshes complete invocations"

if [[ -s $failures ]]; then
  echo "FAIL:"
  cat "$failures"
  exit 1
fi
echo "concurrency: no torn read, nothing went backwards, no two backend calls overlapped"
