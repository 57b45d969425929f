#!/bin/sh
# A self-signed certificate for the compose demo (deploy/compose.yaml), written to
# deploy/tls/ and never committed (.gitignore). FOR DEMONSTRATION ONLY: partners must be
# given a certificate from a CA they trust.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
name=${1:-gw.example.gov.cn}
if [ -f "$here/privkey.pem" ]; then
    echo "$here/privkey.pem exists; remove it to make a new one" >&2
    exit 1
fi
umask 077
openssl req -x509 -newkey rsa:2048 -nodes -days 30 \
    -subj "/CN=$name" -addext "subjectAltName=DNS:$name,DNS:localhost,IP:127.0.0.1" \
    -keyout "$here/privkey.pem" -out "$here/fullchain.pem"
chmod 0644 "$here/fullchain.pem"
echo "demo certificate for $name in $here (valid 30 days)"
