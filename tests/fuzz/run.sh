#!/usr/bin/env bash
# Builds one libFuzzer target (tests/fuzz/<name>.cpp) with clang++-16 and ASan+UBSan, then
# runs it for a bounded time (CKH_FUZZ_SECONDS, default 20) over the committed seeds in
# tests/fuzz/corpus/<name>/ plus a working corpus kept in the build dir.
#
# What it proves: within that budget the fuzzer found no input on which the target crashes,
# traps (a violated round-trip property: the targets __builtin_trap), leaks, hangs, or trips
# a sanitizer. Any of those makes this script exit non-zero and print the report; the
# reproducer is left in $CKH_BUILD_DIR/fuzz/artifacts/. Exit 77 (ctest: skipped) when
# clang++-16 is not installed.
#
# Usage: run.sh <target-name>        e.g. run.sh fuzz_record
# Environment: CKH_SOURCE_DIR, CKH_BUILD_DIR (set by ctest), CKH_FUZZ_SECONDS,
#   CKH_FUZZ_CXX (default clang++-16). Reproduce a crash: <build>/fuzz/bin/<name> <file>.
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
if ! [[ $seconds =~ ^[0-9]+$ ]] || ((seconds < 1)); then
  echo "run.sh: CKH_FUZZ_SECONDS must be a positive whole number of seconds" >&2
  exit 2
fi

# --- what each target links, and the longest input worth trying -------------------------
shared_sources=("$src_dir"/shared/*.cpp)
sources=("${shared_sources[@]}")
libs=()
toml_mode=()
max_len=4096
case $name in
  fuzz_record) max_len=20000 ;;   # a credential may be 16384 bytes: probe past that bound
  fuzz_status) max_len=4096 ;;
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
    sources+=("$src_dir"/refresher/sinks/claude_code_store.cpp "$src_dir"/refresher/json_text.cpp)
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
    libs+=(-lsimdjson -lcrypto -lfmt)
    max_len=8192
    ;;
  fuzz_config)
    # The backends' factories pull in most of the refresher (transport, OAuth, sinks, Vault,
    # AWS): link all of it but main().
    for f in "$src_dir"/refresher/*.cpp "$src_dir"/refresher/*/*.cpp; do
      [[ $f == "$src_dir/refresher/main.cpp" ]] || sources+=("$f")
    done
    # The toml++ the refresher ships with: Debian's shared library (what links in the product).
    # Header-only mode would also fuzz toml++'s internals, whose debug assertions fire on
    # inputs as small as "[<" (upstream marzer/tomlplusplus#294, fixed by #301).
    toml_mode=(-DTOML_HEADER_ONLY=0 -DTOML_SHARED_LIB=1)
    libs+=(-ltomlplusplus -lfmt -lsimdjson -lcurl -lssl -lcrypto -pthread)
    max_len=8192
    ;;
esac

# -D__cpp_concepts: clang 16 reports 201907 and libstdc++ 12 then hides <expected>.
common_flags=(-std=c++2b -D__cpp_concepts=202002L -Wno-macro-redefined -g -O1
  -fno-omit-frame-pointer -fno-sanitize-recover=all "${toml_mode[@]}" -I"$src_dir")
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

# Several fuzz tests may run at once (ctest -j) and share the library objects.
exec 9>"$fuzz_dir/.build.lock"
flock 9
objects=()
for src in "${sources[@]}"; do
  rel=${src#"$src_dir"/}
  obj="$obj_dir/${rel%.cpp}.o"
  compile "$src" "$obj" "${lib_flags[@]}"
  objects+=("$obj")
done
target_obj="$obj_dir/tests/fuzz/$name.o"
compile "$target_src" "$target_obj" "${target_flags[@]}"
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
corpora=("$work_corpus")
[[ -d $seed_corpus ]] && corpora+=("$seed_corpus")
dict="$src_dir/tests/fuzz/dict/$name.dict"
dict_flag=()
[[ -f $dict ]] && dict_flag=(-dict="$dict")

log="$fuzz_dir/$name.log"
rm -f "$artifacts/$name"-*  # reproducers listed below are from this run only
echo "fuzz: running $name for ${seconds}s (max_len $max_len, seeds: ${seed_corpus#"$src_dir"/})"
set +e
# -error_exitcode: libFuzzer's default, 77, is ctest's "skipped" here.
# Leaks are reported (ASan's LeakSanitizer) and fail the run like crashes.
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:allocator_may_return_null=0} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
  "$binary" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
  -error_exitcode=1 -timeout_exitcode=1 -print_final_stats=1 -detect_leaks=1 \
  -artifact_prefix="$artifacts/$name-" "${dict_flag[@]}" "${corpora[@]}" >"$log" 2>&1
status=$?
set -e

failed=0
if ((status != 0)); then
  failed=1
fi
# Belt and braces: a report in the log fails the run whatever the exit status said.
if grep -Eq 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|SUMMARY: (Address|Undefined|Leak)' "$log"; then
  failed=1
fi
if ! grep -q 'DONE' "$log" && ((failed == 0)); then
  echo "fuzz: $name did not finish normally" >&2
  failed=1
fi

if ((failed)); then
  echo "fuzz: $name FAILED (exit status $status); last lines of $log:" >&2
  tail -n 80 "$log" >&2
  echo "fuzz: reproducer(s): $(ls -1 "$artifacts" | grep "^$name-" | sed "s|^|$artifacts/|" | tr '\n' ' ')" >&2
  echo "fuzz: reproduce with: $binary <file>" >&2
  exit 1
fi

done_line=$(grep 'DONE' "$log" | tail -n 1)
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
per_sec=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
echo "fuzz: $name passed: $execs executions in ${seconds}s ($per_sec/s), no crash, leak or sanitizer report"
echo "fuzz: final stats: $done_line"
