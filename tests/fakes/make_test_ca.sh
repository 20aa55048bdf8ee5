#!/bin/bash
# make_test_ca.sh OUTDIR [SERVER_NAME...]
# Generates, with the openssl CLI, a throwaway certificate authority and one server certificate
# signed by it, for the fakes' HTTPS listeners (tests/fakes/vault_server.js --tls-cert/--tls-key):
#   OUTDIR/ca.pem      the CA certificate (self-signed, CA:TRUE, keyCertSign)      0644
#   OUTDIR/ca.key      its private key                                             0600
#   OUTDIR/server.pem  the server certificate (CA:FALSE, serverAuth), signed by ca  0644
#   OUTDIR/server.key  its private key                                             0600
# Keys are EC P-256 (fast). The server certificate's subjectAltName holds DNS:localhost,
# IP:127.0.0.1 and every SERVER_NAME given (a name that parses as an IPv4/IPv6 address becomes
# an IP: entry, anything else DNS:). Both certificates are valid from now for 7 days.
# Quiet: prints nothing on success; on failure prints openssl's messages to stderr, exits 1.
# Usage errors: exit 64.
set -euo pipefail

usage() { echo "usage: make_test_ca.sh OUTDIR [SERVER_NAME...]" >&2; exit 64; }
[ $# -ge 1 ] || usage
OUT=$1; shift
command -v openssl >/dev/null 2>&1 || { echo "make_test_ca.sh: openssl is not installed" >&2; exit 1; }

SAN="DNS:localhost,IP:127.0.0.1"
for name in "$@"; do
  if [[ $name =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ || $name =~ ^[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*$ ]]; then
    SAN="$SAN,IP:$name"
  elif [[ $name =~ ^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$ ]]; then
    SAN="$SAN,DNS:$name"
  else
    echo "make_test_ca.sh: not a host name or IP address: $name" >&2
    exit 64
  fi
done

umask 077
mkdir -p "$OUT"
WORK=$(mktemp -d "$OUT/.make_test_ca.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
ERR="$WORK/openssl.err"
run() { "$@" 2>>"$ERR" >/dev/null || { echo "make_test_ca.sh: failed: $*" >&2; cat "$ERR" >&2; exit 1; }; }

cat > "$WORK/ca.ext" <<'EOF'
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF
cat > "$WORK/server.ext" <<EOF
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = $SAN
EOF

serial() { echo "0x$(openssl rand -hex 16 | sed 's/^./4/')"; }   # positive, 128 bits

run openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/ca.key"
run openssl req -new -key "$WORK/ca.key" -subj "/CN=claude-key-helper throwaway test CA" -out "$WORK/ca.csr"
run openssl x509 -req -in "$WORK/ca.csr" -signkey "$WORK/ca.key" -days 7 -sha256 \
  -set_serial "$(serial)" -extfile "$WORK/ca.ext" -out "$WORK/ca.pem"

run openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/server.key"
run openssl req -new -key "$WORK/server.key" -subj "/CN=localhost" -out "$WORK/server.csr"
run openssl x509 -req -in "$WORK/server.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" -days 7 -sha256 \
  -set_serial "$(serial)" -extfile "$WORK/server.ext" -out "$WORK/server.pem"
run openssl verify -CAfile "$WORK/ca.pem" "$WORK/server.pem"

chmod 600 "$WORK/ca.key" "$WORK/server.key"
chmod 644 "$WORK/ca.pem" "$WORK/server.pem"
for f in ca.key server.key ca.pem server.pem; do mv -f "$WORK/$f" "$OUT/$f"; done
