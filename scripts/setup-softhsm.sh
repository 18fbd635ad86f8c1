#!/usr/bin/env bash
# Set up a throw-away SoftHSM2 token holding a non-extractable ECDSA P-256 signing key, and print
# what a PKCS#11 signer needs as KEY=VALUE lines on stdout (progress goes to stderr).
# Usage: scripts/setup-softhsm.sh DIR
#   DIR  the token store: softhsm2.conf, tokens/ and the user PIN file live here. Running the
#        script again on the same DIR re-uses the token and key (idempotent).
# Printed: SOFTHSM2_CONF (export it before loading the module), PKCS11_MODULE, PKCS11_TOKEN_LABEL,
# PKCS11_KEY_LABEL, PKCS11_KEY_ID (hex), PKCS11_PIN_FILE (the user PIN, never printed itself).
# Installs the Debian packages `softhsm2` and `opensc` (pkcs11-tool) when they are missing. The
# PINs are random per DIR and the key is generated on the token: it is for tests only.
set -euo pipefail
. "$(dirname "$0")/lib/debian.sh"

TOKEN_LABEL="journal-archive-test"
KEY_LABEL="archive-seal"
KEY_ID="a1"

find_module() {
  local path
  for path in /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so \
    /usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so /usr/lib64/softhsm/libsofthsm2.so \
    /usr/local/lib/softhsm/libsofthsm2.so; do
    [ -f "$path" ] && { echo "$path"; return 0; }
  done
  return 1
}

have_tools() {
  find_module >/dev/null && command -v softhsm2-util >/dev/null && command -v pkcs11-tool >/dev/null
}

[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }

if ! have_tools; then
  apt_install "SoftHSM2 and OpenSC (pkcs11-tool)" softhsm2 opensc
  have_tools || { echo "SoftHSM2 module or pkcs11-tool not found after install" >&2; exit 1; }
fi
MODULE="$(find_module)"

mkdir -p "$1/tokens"
DIR="$(cd "$1" && pwd)"
chmod 700 "$DIR"
export SOFTHSM2_CONF="$DIR/softhsm2.conf"
if [ ! -f "$SOFTHSM2_CONF" ]; then
  cat >"$SOFTHSM2_CONF" <<EOF
# Throw-away SoftHSM2 store made by scripts/setup-softhsm.sh
directories.tokendir = $DIR/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
EOF
fi

random_pin() { od -An -N8 -tu8 /dev/urandom | tr -d ' \n' | cut -c1-12; }
write_secret() {  # FILE: keep an existing secret, else create one readable by the owner only
  [ -s "$1" ] || (umask 077 && random_pin >"$1")
}
write_secret "$DIR/user.pin"
write_secret "$DIR/so.pin"
USER_PIN="$(cat "$DIR/user.pin")"

p11() { pkcs11-tool --module "$MODULE" --token-label "$TOKEN_LABEL" "$@"; }

if ! softhsm2-util --show-slots 2>/dev/null | grep -q "Label: *$TOKEN_LABEL *$"; then
  echo "== initialising token $TOKEN_LABEL in $DIR/tokens" >&2
  softhsm2-util --init-token --free --label "$TOKEN_LABEL" \
    --so-pin "$(cat "$DIR/so.pin")" --pin "$USER_PIN" >&2
fi

if ! p11 --login --pin "$USER_PIN" --list-objects --type privkey 2>/dev/null \
  | grep -q "label: *$KEY_LABEL *$"; then
  echo "== generating ECDSA P-256 key $KEY_LABEL on the token" >&2
  # --sensitive and no --extractable: the private key never leaves the token in plain or wrapped.
  p11 --login --pin "$USER_PIN" --keypairgen --key-type EC:prime256v1 \
    --label "$KEY_LABEL" --id "$KEY_ID" --usage-sign --sensitive >&2
fi

# Refuse to hand out a key whose private part could leave the token.
access="$(p11 --login --pin "$USER_PIN" --list-objects --type privkey --label "$KEY_LABEL" \
  2>/dev/null | grep -i 'Access:' || true)"
case "$access" in
  *"never extractable"*) ;;
  *) echo "key $KEY_LABEL is not marked never-extractable (${access:-no Access line})" >&2; exit 1 ;;
esac
case "$access" in
  *"always sensitive"*) ;;
  *) echo "key $KEY_LABEL is not marked always-sensitive ($access)" >&2; exit 1 ;;
esac

echo "SOFTHSM2_CONF=$SOFTHSM2_CONF"
echo "PKCS11_MODULE=$MODULE"
echo "PKCS11_TOKEN_LABEL=$TOKEN_LABEL"
echo "PKCS11_KEY_LABEL=$KEY_LABEL"
echo "PKCS11_KEY_ID=$KEY_ID"
echo "PKCS11_PIN_FILE=$DIR/user.pin"
