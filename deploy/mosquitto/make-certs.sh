#!/usr/bin/env bash
# A private CA and a broker certificate for the Mosquitto TLS listener (openssl only).
#
#   deploy/mosquitto/make-certs.sh OUTDIR [NAME_OR_IP ...]
#
# Writes OUTDIR/ca.crt, ca.key, server.crt, server.key. The names become the certificate's
# subjectAltName: list every name clients use to reach the broker (the agent checks the host name
# against it; the default covers the compose service, the gateway itself and loopback). Copy
# ca.crt to every client (sinks.mqtt.tls.ca_file); keep ca.key offline. An existing CA in OUTDIR
# is reused, so re-running only renews the server certificate.
set -euo pipefail
out="${1:?usage: make-certs.sh OUTDIR [NAME_OR_IP ...]}"
shift
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(mosquitto localhost 127.0.0.1 "$(hostname -f 2>/dev/null || hostname)")
days="${CERT_DAYS:-825}"   # at most 825 days: what Apple/browsers accept for a server certificate

san=""
for name in "${names[@]}"; do
  if [[ "$name" =~ ^[0-9.]+$ || "$name" == *:* ]]; then san+="IP:$name,"; else san+="DNS:$name,"; fi
done
san="${san%,}"

mkdir -p "$out"
umask 077
if [ ! -f "$out/ca.key" ]; then
  openssl req -x509 -newkey rsa:3072 -sha256 -nodes -days 3650 -subj "/CN=energy-agent broker CA" \
    -keyout "$out/ca.key" -out "$out/ca.crt" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
fi
openssl req -newkey rsa:2048 -sha256 -nodes -subj "/CN=${names[0]}" \
  -keyout "$out/server.key" -out "$out/server.csr" 2>/dev/null
ext="$(mktemp)"
trap 'rm -f "$ext" "$out/server.csr"' EXIT
printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' \
  "$san" >"$ext"
openssl x509 -req -in "$out/server.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" -CAcreateserial \
  -days "$days" -sha256 -extfile "$ext" -out "$out/server.crt" 2>/dev/null
chmod 644 "$out/ca.crt" "$out/server.crt"
echo "wrote $out/{ca.crt,server.crt,server.key} for $san"
echo "the broker must be able to read server.key: e.g. chown 1883 $out/server.key (eclipse-mosquitto image)"
