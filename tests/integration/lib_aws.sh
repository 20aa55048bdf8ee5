# shellcheck shell=bash
# What the AWS tests share (sourced, not a test): AWS's own signer for the fakes, and random
# test keys. Needs $SRC (the source tree), $FAKES (tests/fakes/aws) and $T (lib_checks.sh).
#
#   rand [N]            N random bytes (default 24) as base64 letters and digits
#   install_aws_signer  NM = the node_modules holding @smithy/signature-v4 (tests/fakes/aws/
#                       setup.sh, pinned, cached in the build dir); the script ends with 77
#                       ("skipped: <reason>") when npm or the registry is unavailable.

rand() { head -c "${1:-24}" /dev/urandom | base64 -w0 | tr '+/' 'AB' | tr -d '='; }

install_aws_signer() {
  local rc
  set +e
  NM=$(CKH_SOURCE_DIR="$SRC" bash "$FAKES/setup.sh" 2>"$T/setup.err")
  rc=$?
  set -e
  if [ "$rc" = 77 ]; then echo "$NM"; exit 77; fi
  if [ "$rc" != 0 ] || [ ! -d "$NM" ]; then
    echo "FAIL: tests/fakes/aws/setup.sh exited $rc: $NM" >&2
    tail -5 "$T/setup.err" >&2
    exit 1
  fi
}
