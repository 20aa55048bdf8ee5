#!/usr/bin/env bash
# Proves that claude-key-helper is a self-contained static executable, as DESIGN.md
# requires ("statically linked, no dynamic libstdc++, no libcurl/OpenSSL/simdjson, no
# iostreams"):
#  - no dynamic section NEEDED entries and no ELF interpreter (PT_INTERP): nothing is
#    loaded at start, so no ld.so work and no shared library can be swapped under it;
#  - ldd calls it "not a dynamic executable" / "statically linked"; file(1), when present,
#    calls it statically linked;
#  - none of the network/JSON/formatting stacks the refresher uses leaked into it: no
#    symbols (or, if stripped, identifying strings) of libcurl, OpenSSL, simdjson, fmt, and
#    no iostreams (std::ios_base::Init, std::cout).
# Fails with the offending evidence when any of that stops being true, e.g. when someone
# links the helper against ckh_refresher_core or drops -static.
set -euo pipefail

helper=${CKH_HELPER:?CKH_HELPER must name the claude-key-helper binary (set by ctest)}
[[ -x $helper ]] || { echo "FAIL: $helper is not an executable file"; exit 1; }
command -v readelf >/dev/null || { echo "skipped: readelf (binutils) not installed"; exit 77; }

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 1. No NEEDED entries (a static executable has no dynamic section at all).
readelf -dW "$helper" >"$tmp/dynamic" 2>&1 || true
if grep -q '(NEEDED)' "$tmp/dynamic"; then
  fail "readelf -d lists shared libraries the helper needs:"
  grep '(NEEDED)' "$tmp/dynamic" | sed 's/^/    /'
elif grep -q 'There is no dynamic section' "$tmp/dynamic"; then
  pass "readelf -d: there is no dynamic section"
else
  pass "readelf -d: a dynamic section without NEEDED entries (static-pie)"
fi

# 2. No program interpreter.
readelf -lW "$helper" >"$tmp/program_headers" 2>&1 || true
if grep -qE '^\s*INTERP\b|Requesting program interpreter' "$tmp/program_headers"; then
  fail "the helper requests a program interpreter (dynamic loader):"
  grep -E 'INTERP|interpreter' "$tmp/program_headers" | sed 's/^/    /'
else
  pass "readelf -l: no INTERP program header"
fi

# 3. ldd agrees (it exits 1 for a static executable, so its status is not the verdict).
if command -v ldd >/dev/null; then
  ldd "$helper" >"$tmp/ldd" 2>&1 || true
  if grep -qE 'not a dynamic executable|statically linked' "$tmp/ldd"; then
    pass "ldd: $(head -n 1 "$tmp/ldd" | sed 's/^[[:space:]]*//')"
  else
    fail "ldd lists dependencies:"
    sed 's/^/    /' "$tmp/ldd"
  fi
else
  echo "note: ldd not installed; skipped that check"
fi

# 4. file(1) agrees, when installed.
if command -v file >/dev/null; then
  description=$(file -b "$helper")
  if [[ $description == *"statically linked"* || $description == *"static-pie linked"* ]]; then
    pass "file: statically linked"
  else
    fail "file says: $description"
  fi
else
  echo "note: file(1) not installed; skipped that check"
fi

# 5. Nothing of the refresher's heavy dependencies, and no iostreams.
#    Symbol patterns (mangled names): libcurl, OpenSSL, simdjson, fmt, iostreams.
forbidden_symbols='(^|[^A-Za-z0-9_])(curl_[a-z_]+|Curl_[A-Za-z_]+|SSL_[A-Za-z_]+|OPENSSL_[A-Za-z_]+|EVP_[A-Za-z_]+|CRYPTO_[a-z_]+)$|simdjson|_ZN3fmt|_ZNSt8ios_base4Init|_ZSt4cout|_ZSt4cerr|_ZNSo|_ZNSi|basic_ostream|basic_istream'
if command -v nm >/dev/null && nm "$helper" >"$tmp/symbols" 2>/dev/null && [[ -s $tmp/symbols ]]; then
  count=$(wc -l <"$tmp/symbols")
  if grep -E "$forbidden_symbols" "$tmp/symbols" | awk '{print $NF}' | sort -u >"$tmp/bad_symbols" && [[ -s $tmp/bad_symbols ]]; then
    fail "the helper holds symbols of libcurl/OpenSSL/simdjson/fmt/iostreams ($(wc -l <"$tmp/bad_symbols") of them), e.g.:"
    head -n 15 "$tmp/bad_symbols" | sed 's/^/    /'
  else
    pass "nm: none of $count symbols belong to libcurl, OpenSSL, simdjson, fmt or iostreams"
  fi
else
  # Stripped: fall back to the version strings those libraries embed.
  strings -a "$helper" >"$tmp/strings" 2>/dev/null || true
  if grep -E 'libcurl/[0-9]|OpenSSL [0-9]+\.[0-9]|simdjson|ios_base::Init' "$tmp/strings" | sort -u >"$tmp/bad_strings" &&
    [[ -s $tmp/bad_strings ]]; then
    fail "the stripped helper embeds strings of libcurl/OpenSSL/simdjson/iostreams:"
    head -n 10 "$tmp/bad_strings" | sed 's/^/    /'
  else
    pass "strings (binary is stripped): no libcurl, OpenSSL, simdjson or iostreams strings"
  fi
fi

# 6. And it really runs on its own: --help works with an empty environment.
if env -i "$helper" --help >"$tmp/help" 2>&1 && grep -q 'usage: claude-key-helper' "$tmp/help"; then
  pass "runs with an empty environment (--help)"
else
  fail "claude-key-helper --help did not run with an empty environment"
fi

if ((failures)); then
  echo "static_link: $failures check(s) failed for $helper"
  exit 1
fi
echo "static_link: $helper is statically linked and free of curl/OpenSSL/simdjson/fmt/iostreams"
