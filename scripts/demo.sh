#!/usr/bin/env bash
# kesrotate demo: a full cold-side rotation in a throwaway folder.
#
# Today it covers the offline half: a fresh vault, a new pool (and, when the
# test vectors sit beside the repository, a pool imported from cardano-cli
# files), a plaintext rotation, the node-style verify and the pool state.
# The QR/age transfer and the install into a test node are added here as
# those parts land.
#
# Usage: scripts/demo.sh            (make demo builds bin/ first)
#   KESROTATE=path   the kesrotate binary (default bin/kesrotate)
#   KEEP=1           keep the demo folder instead of removing it
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
kr=${KESROTATE:-$root/bin/kesrotate}
if [[ ! -x $kr ]]; then
  echo "demo: $kr is not built; run 'make demo'" >&2
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/kesrotate-demo.XXXXXX")
if [[ ${KEEP:-} == 1 ]]; then
  trap 'echo; echo "demo folder kept: $work"' EXIT
else
  trap 'rm -rf "$work"' EXIT
fi
vault=$work/vault

if [[ -t 1 ]]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
run() {
  printf '$ %s\n' "${*//$work/\$DEMO}"
  "$@"
}
# refuse runs a command that must fail with exit 1, and shows why.
refuse() {
  printf '$ %s\n' "${*//$work/\$DEMO}"
  local rc=0
  "$@" || rc=$?
  if [[ $rc -ne 1 ]]; then
    echo "demo: expected kesrotate to refuse (exit 1), got exit $rc" >&2
    exit 1
  fi
  echo "(refused, exit 1, nothing changed)"
}

echo "kesrotate demo in \$DEMO=$work"
run "$kr" --version

step "1. A vault on the (pretend) USB stick, for preprod"
run "$kr" --vault "$vault" init --network preprod

step "2. A new pool: cold key, counter and VRF key in cardano-cli format"
run "$kr" --vault "$vault" pool new demo

vectors=$root/../shared/testvectors/cardano-cli
if [[ -d $vectors ]]; then
  step "2b. Importing an existing pool from cardano-cli files keeps its pool id and counter"
  run "$kr" --vault "$vault" pool import golden \
    --cold-skey "$vectors/node-cold.skey" \
    --counter "$vectors/genesis_delegate_keys.operational_certificate_counter" \
    --vrf-skey "$vectors/vrf_keys.signing_key"
fi
run "$kr" --vault "$vault" pool list

# On a real pool the producer tells you the current KES period
# ('cardano-cli query kes-period-info'). Here it comes from the clock:
# preprod's Shelley era starts at slot 86400 on 2022-06-21T00:00:00Z with
# 1-second slots and 129600 slots per KES period.
period=$(( (86400 + $(date -u +%s) - 1655769600) / 129600 ))

step "3. Rotation: a fresh KES key and op cert #0 (the pool never minted)"
run "$kr" --vault "$vault" rotate demo --kes-period "$period" --onchain-counter none --out "$work/hot"
ls -l "$work/hot"

step "4. Check it the way cardano-node will"
run "$kr" --vault "$vault" verify --cert "$work/hot/node.cert" \
  --cold-vkey "$vault/pools/demo/cold.vkey" --kes-skey "$work/hot/kes.skey" \
  --vrf-skey "$vault/pools/demo/vrf.skey"

step "5. Rotating again before that cert ever minted reuses #0 (no over-increment)"
run "$kr" --vault "$vault" rotate demo --kes-period "$period" --onchain-counter none --out "$work/hot2"

step "6. If the chain shows a counter this vault never issued, kesrotate refuses"
refuse "$kr" --vault "$vault" rotate demo --kes-period "$period" --onchain-counter 5 --out "$work/hot3"

step "7. The pool's state: counter, certs issued"
run "$kr" --vault "$vault" pool show demo

printf '\ndemo done: vault, pool, rotation and verify all worked.\n'
