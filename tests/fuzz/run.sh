#!/usr/bin/env bash
# Builds one libFuzzer target (tests/fuzz/<name>.cpp) with clang++-16 and ASan+UBSan, replays
# its committed seed corpus (tests/fuzz/corpus/<name>/) as a regression run, then fuzzes for a
# bounded time (CKH_FUZZ_SECONDS, default 20) from those seeds plus a working corpus kept in
# the build dir.
#
# What it proves: (1) every committed input, each past finding included, still runs clean,
# whatever the seed of this run: a finding, once its reproducer is committed, can never pass
# again by luck; (2) within the budget the fuzzer found no input on which the target
# crashes, traps (a violated property: the targets __builtin_trap), leaks, hangs, or trips a
# sanitizer. Any of those makes this script exit non-zero and print the report. A new
# finding is left in $CKH_BUILD_DIR/fuzz/artifacts/ and printed as base64 with the command
# that commits it to the seed corpus (CI's log is then enough to keep it). Exit 77 (ctest:
# skipped) when clang++-16 is not installed.
#
# Usage: run.sh <target-name>        e.g. run.sh fuzz_record
# Environment: CKH_SOURCE_DIR, CKH_BUILD_DIR (set by ctest), CKH_FUZZ_SECONDS (0: only the
#   regression replay), CKH_FUZZ_CXX (default clang++-16).
#   Reproduce a crash: <build>/fuzz/bin/<name> <file>.
set -euo pipefail

name=${1:?usage: run.sh <fuzz target name, e.g. fuzz_record>}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src_dir=${CKH_SOURCE_DIR:-$(cd "$here/../.." && pwd)}
build_dir=${CKH_BUILD_DIR:-$src_dir/build}
seconds=${CKH_FUZZ_SECONDS:-20}
cxx=${CKH_FUZZ_CXX:-clang++-16}

if ! command -v "$cxx" >/dev/null 2>&1; then
  echo "skipped: clang++-16 not installed"
  exit 77
fi
target_src="$src_dir/tests/fuzz/$name.cpp"
if [[ ! -f $target_src ]]; then
  echo "run.sh: no fuzz target $target_src" >&2
  exit 2
fi
if ! [[ $seconds =~ ^[0-9]+$ ]]; then
  echo "run.sh: CKH_FUZZ_SECONDS must be a whole number of seconds (0: replay the seeds only)" >&2
  exit 2
fi

# --- what each target links, and the longest input worth trying -------------------------
shared_sources=("$src_dir"/shared/*.cpp)
sources=("${shared_sources[@]}")
libs=()
toml_mode=()
extra_cflags=()
max_len=4096
case $name in
  fuzz_record) max_len=20000 ;;   # a credential may be 16384 bytes: probe past that bound
  fuzz_status)  # also status --json/text over what the record holds (status_format.cpp)
    sources+=("$src_dir"/refresher/status_format.cpp "$src_dir"/refresher/json_writer.cpp)
    libs+=(-lsimdjson -lfmt)
    max_len=4096
    ;;
  fuzz_protocol) max_len=2200 ;;  # kMaxProtocolLine is 1024: probe past it
  fuzz_proc_stat) max_len=2048 ;;
  fuzz_token_response)
    sources+=("$src_dir"/refresher/oauth/token_response.cpp "$src_dir"/refresher/http/retry_after.cpp)
    libs+=(-lsimdjson)
    max_len=8192
    ;;
  fuzz_oauth_input)
    sources+=("$src_dir"/refresher/oauth/oauth_secret.cpp "$src_dir"/refresher/oauth/oauth_urls.cpp)
    libs+=(-lcrypto)
    max_len=4096
    ;;
  fuzz_claude_code_store)
    sources+=("$src_dir"/refresher/sinks/claude_code_store.cpp "$src_dir"/refresher/json_writer.cpp)
    libs+=(-lsimdjson)
    max_len=4096
    ;;
  fuzz_vault_response)
    sources+=("$src_dir"/refresher/vault/vault_response.cpp "$src_dir"/refresher/vault/vault_secret.cpp)
    libs+=(-lsimdjson)
    max_len=8192
    ;;
  fuzz_aws_input)
    sources+=("$src_dir"/refresher/aws/aws_ini.cpp "$src_dir"/refresher/aws/aws_responses.cpp
      "$src_dir"/refresher/aws/aws_credentials.cpp "$src_dir"/refresher/aws/sigv4.cpp
      "$src_dir"/refresher/child_process.cpp "$src_dir"/refresher/http/transport.cpp
      "$src_dir"/refresher/env_lookup.cpp)
    # What aws_credentials.cpp calls for credential_process's environment and the shared
    # files' trust check (files of their own since issue 10).
    for f in refresher/child_env.cpp refresher/file_trust.cpp; do
      [[ -f $src_dir/$f ]] && sources+=("$src_dir/$f")
    done
    libs+=(-lsimdjson -lcrypto -lfmt)
    max_len=8192
    ;;
  fuzz_config)
    # The backends' factories pull in most of the refresher (transport, OAuth, sinks, Vault,
    # AWS): link all of it but main().
    # Linked with the libraries themselves (below), so without the product's lazy
    # forwarders of them (refresher/lazy/) and its compiled-in fmt and toml++.
    for f in "$src_dir"/refresher/*.cpp "$src_dir"/refresher/*/*.cpp; do
      case $f in
        "$src_dir/refresher/main.cpp" | "$src_dir"/refresher/lazy/*_functions.cpp | \
          "$src_dir/refresher/third_party_implementation.cpp") ;;
        *) sources+=("$f") ;;
      esac
    done
    # The toml++ the refresher ships with: Debian's shared library (what links in the product).
    # Header-only mode would also fuzz toml++'s internals, whose debug assertions fire on
    # inputs as small as "[<" (upstream marzer/tomlplusplus#294, fixed by #301).
    toml_mode=(-DTOML_HEADER_ONLY=0 -DTOML_SHARED_LIB=1)
    libs+=(-ltomlplusplus -lfmt -lsimdjson -lcurl -lssl -lcrypto -pthread)
    # The keyring store (refresher/keyring/keyring.cpp) talks to libsecret.
    read -r -a secret_cflags <<<"$(pkg-config --cflags libsecret-1)"
    read -r -a secret_libs <<<"$(pkg-config --libs libsecret-1)"
    extra_cflags+=("${secret_cflags[@]}")
    libs+=("${secret_libs[@]}")
    max_len=8192
    ;;
  fuzz_oauth2_response)
    sources+=("$src_dir"/refresher/oauth2/token_endpoint.cpp "$src_dir"/refresher/oauth2/discovery.cpp
      "$src_dir"/refresher/oauth2/device_authorization.cpp "$src_dir"/refresher/oauth2/jwt.cpp
      "$src_dir"/refresher/oauth2/oauth2_state.cpp "$src_dir"/refresher/oauth2/client_assertion.cpp
      "$src_dir"/refresher/oauth/token_response.cpp "$src_dir"/refresher/oauth/oauth_urls.cpp
      "$src_dir"/refresher/oauth/pkce.cpp "$src_dir"/refresher/http/retry_after.cpp
      "$src_dir"/refresher/http/transport.cpp "$src_dir"/refresher/json_writer.cpp)
    libs+=(-lsimdjson -lcrypto)
    max_len=8192
    ;;
  fuzz_secret_item)
    sources+=("$src_dir"/refresher/keyring/secret_item.cpp)
    libs+=(-lcrypto)
    max_len=4096
    ;;
esac

# -D__cpp_concepts: clang 16 reports 201907 and libstdc++ 12 then hides <expected>.
common_flags=(-std=c++2b -D__cpp_concepts=202002L -Wno-macro-redefined -g -O1
  -fno-omit-frame-pointer -fno-sanitize-recover=all "${toml_mode[@]}" "${extra_cflags[@]}" -I"$src_dir")
lib_flags=("${common_flags[@]}" -fsanitize=fuzzer-no-link,address,undefined)
target_flags=("${common_flags[@]}" -fsanitize=fuzzer,address,undefined)

fuzz_dir="$build_dir/fuzz"
# Objects are kept per set of flags, so that targets built differently never share one.
flags_id=$(printf '%s\n' "$cxx" "${lib_flags[@]}" | md5sum | cut -c1-10)
obj_dir="$fuzz_dir/obj/$flags_id"
bin_dir="$fuzz_dir/bin"
work_corpus="$fuzz_dir/corpus/$name"
artifacts="$fuzz_dir/artifacts"
mkdir -p "$obj_dir" "$bin_dir" "$work_corpus" "$artifacts"

# Make-like: an object is rebuilt when it is missing, or older than its source, one of the
# headers it included (from the compiler's -MMD list), or this script (flags live here).
needs_build() {
  local obj=$1 dep_file=$2 src=$3 dep
  [[ -f $obj && -f $dep_file ]] || return 0
  [[ $src -nt $obj || ${BASH_SOURCE[0]} -nt $obj ]] && return 0
  while read -r dep; do
    [[ -z $dep ]] && continue
    [[ -e $dep && $dep -nt $obj ]] && return 0
    [[ -e $dep ]] || return 0
  done < <(sed -e 's/\\$//' -e 's/^[^:]*://' "$dep_file" | tr ' ' '\n')
  return 1
}

compile() {  # compile <source> <object> <flags...>
  local src=$1 obj=$2
  shift 2
  mkdir -p "$(dirname "$obj")"
  if needs_build "$obj" "$obj.d" "$src"; then
    echo "fuzz: compiling ${src#"$src_dir"/}"
    "$cxx" "$@" -MMD -MF "$obj.d" -c "$src" -o "$obj.tmp"
    mv -f "$obj.tmp" "$obj"
  fi
}

# Several fuzz tests may run at once (ctest -j) and share the library objects: one builds
# under the lock while the others wait for it, so the build uses every core (a serial build
# would leave the waiting tests' cores idle for minutes).
exec 9>"$fuzz_dir/.build.lock"
flock 9
jobs_max=$(nproc)
compile_failed=0
objects=() compile_pids=()
for src in "${sources[@]}"; do
  rel=${src#"$src_dir"/}
  obj="$obj_dir/${rel%.cpp}.o"
  # wait -n only throttles; every job's status is read by its pid below (bash keeps the
  # status of a reaped background pid for `wait PID`, and wait -n can miss a finished one).
  while (($(jobs -rp | wc -l) >= jobs_max)); do wait -n || true; done
  compile "$src" "$obj" "${lib_flags[@]}" &
  compile_pids+=("$!")
  objects+=("$obj")
done
target_obj="$obj_dir/tests/fuzz/$name.o"
compile "$target_src" "$target_obj" "${target_flags[@]}" &
compile_pids+=("$!")
for pid in "${compile_pids[@]}"; do wait "$pid" || compile_failed=1; done
((compile_failed == 0)) || { echo "fuzz: building $name failed (see the compiler's messages above)" >&2; exit 1; }
binary="$bin_dir/$name"
relink=0
[[ -x $binary ]] || relink=1
for obj in "${objects[@]}" "$target_obj"; do
  [[ $obj -nt $binary ]] && relink=1
done
if ((relink)); then
  echo "fuzz: linking $name"
  "$cxx" "${target_flags[@]}" "$target_obj" "${objects[@]}" "${libs[@]}" -o "$binary.tmp"
  mv -f "$binary.tmp" "$binary"
fi
flock -u 9
exec 9>&-

# --- run -------------------------------------------------------------------------------
seed_corpus="$src_dir/tests/fuzz/corpus/$name"
dict="$src_dir/tests/fuzz/dict/$name.dict"
dict_flag=()
[[ -f $dict ]] && dict_flag=(-dict="$dict")
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# Stack traces with function names and lines: the sanitizers reject Debian's relative
# llvm-symbolizer link, so name the real file (any version reads clang 16's DWARF).
if [[ -z ${ASAN_SYMBOLIZER_PATH:-} ]]; then
  for s in "$(command -v llvm-symbolizer-16 || true)" "$(command -v llvm-symbolizer || true)"; do
    [[ -n $s ]] && s=$(readlink -f "$s") && [[ -x $s ]] && export ASAN_SYMBOLIZER_PATH=$s && break
  done
fi
# A report in a log fails the run whatever the exit status said.
report_re='ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|SUMMARY: (Address|Undefined|Leak)|PROPERTY VIOLATED'

# show_finding FILE WHERE: the reproducer's path and base64, and how to commit it as a seed.
show_finding() {
  local file=$1 where=$2 size
  size=$(stat -c %s "$file")
  echo "fuzz: finding: $file ($size bytes)" >&2
  if ((size <= 65536)); then
    echo "fuzz: base64 of it (to keep it, run from the repository's root, then commit):" >&2
    echo "base64 -d > tests/fuzz/corpus/$name/regress_$where-$(sha1sum "$file" | cut -c1-12) <<'B64'" >&2
    base64 -w 76 "$file" >&2
    echo "B64" >&2
  fi
}

# 1. Regression: every committed seed, each file run once in full (individual files: no
#    -max_len truncation, no mutation). -runs is irrelevant there; -timeout is generous
#    because a loaded CI machine is slow, and a real hang still fails.
seeds=()
if [[ -d $seed_corpus ]]; then
  while IFS= read -r -d '' f; do seeds+=("$f"); done \
    < <(find "$seed_corpus" -maxdepth 1 -type f -print0 | sort -z)
fi
replay_log="$fuzz_dir/$name.replay.log"
if ((${#seeds[@]} > 0)); then
  set +e
  "$binary" -timeout=60 -rss_limit_mb=2048 -error_exitcode=1 -timeout_exitcode=1 \
    -detect_leaks=1 "${seeds[@]}" >"$replay_log" 2>&1
  status=$?
  set -e
  if ((status != 0)) || grep -Eq "$report_re" "$replay_log" ||
     ! grep -q 'fuzzing was not performed' "$replay_log"; then
    echo "fuzz: $name FAILED the regression replay of ${seed_corpus#"$src_dir"/} (exit status $status)" >&2
    tail -n 60 "$replay_log" >&2
    # Name every failing seed, not only the first (one process per seed: a crash ends one).
    bad=()
    for f in "${seeds[@]}"; do
      if ! "$binary" -timeout=60 -rss_limit_mb=2048 -error_exitcode=1 -timeout_exitcode=1 \
        -detect_leaks=1 "$f" >"$replay_log.one" 2>&1 || grep -Eq "$report_re" "$replay_log.one"; then
        bad+=("${f#"$src_dir"/}")
      fi
    done
    echo "fuzz: failing seed(s): ${bad[*]:-(none alone: an interaction between inputs; see the log)}" >&2
    echo "fuzz: reproduce with: $binary <file>" >&2
    exit 1
  fi
  echo "fuzz: replayed ${#seeds[@]} seed(s) of ${seed_corpus#"$src_dir"/}: all clean"
else
  echo "fuzz: no committed seeds in ${seed_corpus#"$src_dir"/} to replay"
fi
if ((seconds == 0)); then
  echo "fuzz: $name passed (replay only: CKH_FUZZ_SECONDS=0)"
  exit 0
fi

# 2. Fuzz for the budget, from the seeds and what earlier runs found interesting.
corpora=("$work_corpus")
[[ -d $seed_corpus ]] && corpora+=("$seed_corpus")
log="$fuzz_dir/$name.log"
rm -f "$artifacts/$name"-*  # reproducers listed below are from this run only
echo "fuzz: running $name for ${seconds}s (max_len $max_len, seeds: ${seed_corpus#"$src_dir"/})"
set +e
# -error_exitcode: libFuzzer's default, 77, is ctest's "skipped" here.
# Leaks are reported (ASan's LeakSanitizer) and fail the run like crashes.
"$binary" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
  -error_exitcode=1 -timeout_exitcode=1 -print_final_stats=1 -detect_leaks=1 \
  -artifact_prefix="$artifacts/$name-" "${dict_flag[@]}" "${corpora[@]}" >"$log" 2>&1
status=$?
set -e

failed=0
if ((status != 0)); then
  failed=1
fi
if grep -Eq "$report_re" "$log"; then
  failed=1
fi
if ! grep -q 'DONE' "$log" && ((failed == 0)); then
  echo "fuzz: $name did not finish normally" >&2
  failed=1
fi

if ((failed)); then
  echo "fuzz: $name FAILED (exit status $status); last lines of $log:" >&2
  tail -n 80 "$log" >&2
  found=0
  for f in "$artifacts/$name"-*; do
    [[ -f $f ]] || continue
    kind=${f#"$artifacts/$name"-}
    show_finding "$f" "${kind%%-*}"
    found=1
  done
  ((found)) || echo "fuzz: no reproducer was written (see the log above)" >&2
  echo "fuzz: reproduce with: $binary <file>" >&2
  exit 1
fi

done_line=$(grep 'DONE' "$log" | tail -n 1)
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
per_sec=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
echo "fuzz: $name passed: $execs executions in ${seconds}s ($per_sec/s), no crash, leak or sanitizer report"
echo "fuzz: final stats: $done_line"
