#!/usr/bin/env bash
# kesrotate demo: a full rotation in a throwaway folder, the way an operator
# runs it — a fresh vault on the cold side, a producer agent beside a
# running node, enrollment and snapshot in as QR codes, the sealed bundle
# out as QR frames, installed into the node with SIGHUP (no restart), then
# status, the expiry reminder and the auditor's check of the ceremony log.
#
# The node is kesrotate-testnode, a stand-in for cardano-node that checks
# and reloads credentials with the node's rules and answers the same local
# state queries. Both sides run on this machine; the files in $DEMO/stick
# are what would travel on the transfer stick.
#
# Usage: scripts/demo.sh            (make demo builds bin/ first)
#   BIN=dir    where kesrotate and kesrotate-agent are (default bin/)
#   KEEP=1     keep the demo folder instead of removing it
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin=${BIN:-$root/bin}
kr=$bin/kesrotate
ka=$bin/kesrotate-agent
for b in "$kr" "$ka"; do
  [[ -x $b ]] || { echo "demo: $b is not built; run 'make demo'" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/kesrotate-demo.XXXXXX")
node_pid=
cleanup() {
  [[ -n $node_pid ]] && kill "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null || true
  if [[ ${KEEP:-} == 1 ]]; then echo; echo "demo folder kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

if [[ -t 1 ]]; then bold=$'\033[1m' dim=$'\033[2m' plain=$'\033[0m'; else bold='' dim='' plain=''; fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
show() { printf '%s$ %s%s\n' "$dim" "$(echo "$*" | sed "s#$work#\$DEMO#g; s#$bin/##g")" "$plain"; }
run() { show "$@"; "$@"; }
# refuse runs a command that must fail with exit 1 and shows its message.
refuse() {
  show "$@"
  local rc=0
  "$@" || rc=$?
  [[ $rc -eq 1 ]] || { echo "demo: expected a refusal (exit 1), got exit $rc" >&2; exit 1; }
  echo "(refused with exit 1; nothing changed)"
}

echo "kesrotate demo in \$DEMO=$work"
run "$kr" --version

# The test node is built here: it is a test tool, not a release binary.
(cd "$root" && CGO_ENABLED=0 go build -o "$work/tools/kesrotate-testnode" ./internal/testnode/cmd/kesrotate-testnode)
tn=$work/tools/kesrotate-testnode
cold=$work/cold stick=$work/stick prod=$work/producer
mkdir -p "$stick" "$prod/node"
vault=$cold/vault

step "1. Cold machine: a vault on the USB stick and a new pool (preprod; --networked: a sandbox vault, no air-gap warnings)"
run "$kr" --vault "$vault" --operator alice --witness bob init --network preprod --networked
run "$kr" --vault "$vault" --operator alice pool new demo
run "$kr" --vault "$vault" pool export-public demo --out "$stick/public"

step "2. Producer: cardano-node runs, not yet forging (the test node stands in)"
sock=$(mktemp -u "${TMPDIR:-/tmp}/krdemo-XXXXXX.socket")
# The test node models cardano-node 11.0 with its shipped config (new
# tracing, root severity Notice) plus the line an operator adds so that
# block forging updates reach the log. A real node refuses to start while
# its credential files are missing; --allow-missing-credentials stands in
# for a node whose files were moved away after it started.
show kesrotate-testnode --node-version 11.0 --network preprod --allow-missing-credentials \
  --trace-option Startup.BlockForgingUpdate=Info --socket-path "$sock" \
  --shelley-kes-key "$prod/node/kes.skey" --shelley-vrf-key "$prod/node/vrf.skey" \
  --shelley-operational-certificate "$prod/node/node.cert" --metrics 127.0.0.1:0 …
"$tn" --node-version 11.0 --network preprod --allow-missing-credentials \
  --trace-option Startup.BlockForgingUpdate=Info --socket-path "$sock" \
  --shelley-kes-key "$prod/node/kes.skey" --shelley-vrf-key "$prod/node/vrf.skey" \
  --shelley-operational-certificate "$prod/node/node.cert" \
  --metrics 127.0.0.1:0 --metrics-addr-file "$prod/metrics.addr" --pid-file "$prod/node.pid" \
  >"$prod/node.log" 2>&1 &
node_pid=$!
for _ in $(seq 200); do [[ -s $prod/node.pid ]] && break; sleep 0.05; done
[[ -s $prod/node.pid ]] || { cat "$prod/node.log"; echo "demo: the test node did not start" >&2; exit 1; }
echo "node pid $(cat "$prod/node.pid"), metrics on $(cat "$prod/metrics.addr")"

step "3. Producer: the agent's identity, and its enrollment as a QR code"
agent=$prod/agent
run "$ka" --dir "$agent" init --network preprod --name bp1 \
  --cold-vkey "$stick/public/cold.vkey" \
  --kes-skey "$prod/node/kes.skey" --vrf-skey "$prod/node/vrf.skey" --cert "$prod/node/node.cert" \
  --pid-file "$prod/node.pid" --socket "$sock" --node-log "$prod/node.log" \
  --metrics-url "http://$(cat "$prod/metrics.addr")/metrics"
show "$ka" --dir "$agent" enrollment --qr "$stick/enrollment.png"
enrolled=$("$ka" --dir "$agent" enrollment --qr "$stick/enrollment.png")
echo "$enrolled"
# The operator reads the fingerprint off the producer's screen.
fp=$(sed -n 's/^  fingerprint  //p' <<<"$enrolled")

step "4. Cold machine: pin the producer from the scanned QR code, typing the fingerprint it showed"
run "$kr" --vault "$vault" --operator alice producer add bp1 --scan "$stick/enrollment.png" --fingerprint "$fp"

step "5. Producer: a signed snapshot of the chain, from the node socket"
run "$ka" --dir "$agent" snapshot --qr "$stick/snapshot.png"

step "6. Cold machine: a bad snapshot is refused and changes nothing"
cp "$stick/snapshot.png" "$work/old-snapshot.png"
refuse "$kr" --vault "$vault" --now "$(date -u -d '+3 days' +%Y-%m-%dT%H:%M:%SZ)" rotate demo --producer bp1 --scan "$work/old-snapshot.png"

step "7. Cold machine: rotate — counter and KES period from the snapshot, bundle sealed to bp1 as QR frames"
run "$kr" --vault "$vault" --operator alice --witness bob rotate demo --producer bp1 \
  --scan "$stick/snapshot.png" --out "$stick" --qr "$stick/frames"
frames=("$stick"/frames/frame-*.png)
echo "${#frames[@]} frames; the producer will scan them out of order and miss two"

step "8. Producer: install from the scanned frames; SIGHUP; the node confirms"
# Every frame but the second and fifth, last first: fountain codes do not mind.
scan=()
for ((i=${#frames[@]}-1; i>=0; i--)); do [[ $i -eq 1 || $i -eq 4 ]] || scan+=("${frames[$i]}"); done
run "$ka" --dir "$agent" install --scan "${scan[@]}" --confirm-timeout 30s
echo "-- the node's log:"
grep -E 'forging|Forging' "$prod/node.log" | sed 's/^/   /'
echo "node pid $(cat "$prod/node.pid") (the same process: reloaded, not restarted)"
ls -l "$prod/node" | sed 's/^/   /'

step "9. Producer: status, like 'cardano-cli query kes-period-info'"
run "$ka" --dir "$agent" status
"$ka" --dir "$agent" status --json >"$work/status.json"

step "10. Monitoring host: the expiry reminder for cron (exit 0: nothing due)"
run "$kr" plan --status "$work/status.json"

step "11. Auditor: the ceremony log, exported and verified with the pool's cold vkey only"
run "$kr" --vault "$vault" ceremony export --out "$work/audit"
run "$kr" ceremony verify --log "$work/audit" --cold-vkey "$stick/public/cold.vkey" --checkpoints "$agent/checkpoints"

step "Done"
echo "A fresh vault, a producer pinned by QR, a rotation across the gap as QR frames,"
echo "installed into a running node by SIGHUP, and a ceremony log an auditor can check."
