# shellcheck shell=bash
# Assertions and secret handling shared by the integration scripts (sourced, not a test: ctest
# runs only the files without a leading "lib"). private_tmp makes $T, the script's private
# temp dir, and arranges its cleanup.
#
# Guarantees: every message fail/pass prints goes through redact, so a secret the script has
# registered with `secret` (or any text matching $REDACT_SED, a sed -E expression for the
# token shapes of the system under test) is shown only as its fingerprint; finish exits 1
# when any check failed. start_fake starts one of the Node fakes under tests/fakes/ and waits
# for its port file. Used by lib.sh (so by every test that sources it) and by the fakes'
# own tests.

FAILURES=0
REDACT_SED=${REDACT_SED:-}
BG_PIDS=()

# private_tmp PREFIX: T = a new 0700 dir with an empty $T/secrets. On exit, cleanup kills what
# the script started (BG_PIDS) and removes T, or keeps it and says so with CKH_KEEP_TMP=1. A
# script with more to stop calls cleanup from its own trap.
private_tmp() {
  T=$(mktemp -d "${TMPDIR:-/tmp}/$1-XXXXXX")
  chmod 700 "$T"
  : >"$T/secrets"
  trap cleanup EXIT
}
cleanup() {
  for pid in "${BG_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "${CKH_KEEP_TMP:-}" = 1 ]; then
    echo "kept $T"
    return
  fi
  rm -rf "$T"
}

fp() { printf '%s' "$1" | sha256sum | cut -c1-12; }
secret() { [ -n "$1" ] && printf '%s\n' "$1" >>"$T/secrets"; return 0; }
redact() {
  local s=$1 x
  if [ -s "$T/secrets" ]; then
    while IFS= read -r x; do
      [ -n "$x" ] && [[ $s == *"$x"* ]] && s=${s//"$x"/"<fp:$(fp "$x")>"}
    done <"$T/secrets"
  fi
  if [ -n "$REDACT_SED" ]; then printf '%s' "$s" | sed -E "$REDACT_SED"; else printf '%s' "$s"; fi
}
fail() { echo "FAIL: $(redact "$*")" >&2; FAILURES=$((FAILURES + 1)); }
pass() { echo "ok: $(redact "$*")"; }
expect_eq() { # what expected actual
  if [ "$2" == "$3" ]; then pass "$1"; else fail "$1: expected [$2], got [$3]"; fi
}
finish() {
  if [ "$FAILURES" -ne 0 ]; then echo "$FAILURES check(s) failed" >&2; exit 1; fi
  echo "all checks passed"
}

# start_fake NAME SCRIPT [args...]: node SCRIPT --port-file $T/NAME.port --log $T/NAME.log
# (stdout/stderr in $T/NAME.out/.err); sets PORT_<NAME>, adds the pid to BG_PIDS. A fake that
# has not written its port within 60 s (a bound for a loaded machine) ends the script.
start_fake() {
  local name=$1 script=$2 _
  shift 2
  node "$script" --port-file "$T/$name.port" --log "$T/$name.log" "$@" >"$T/$name.out" 2>"$T/$name.err" &
  BG_PIDS+=($!)
  for _ in $(seq 1200); do [ -s "$T/$name.port" ] && break; sleep 0.05; done
  [ -s "$T/$name.port" ] || { echo "FAIL: $script did not start: $(cat "$T/$name.err")" >&2; exit 1; }
  printf -v "PORT_$name" '%s' "$(cat "$T/$name.port")"
}

# jget PATH.TO.FIELD... < json: each field on its own line (objects as JSON, a missing one as an
# empty line); "<not json>" when the input is not JSON.
jget() {
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{let j;try{j=JSON.parse(s)}catch(e){process.stdout.write("<not json>\n");return}
    process.stdout.write(process.argv.slice(1).map((p)=>{let v=j;for(const k of p.split(".")) v = v==null ? undefined : v[k];
      return v===undefined ? "" : typeof v==="object" ? JSON.stringify(v) : String(v)}).join("\n")+"\n")})' "$@"
}
