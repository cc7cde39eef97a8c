// Parses a cardano-cli NodeOperationalCertificate file with dcSpark's
// cardano-multiplatform-lib (an independent Cardano implementation) and
// verifies its cold signature. Usage: node opcert.js FILE
// Prints one JSON object on stdout; exits 1 on any parse error.
"use strict";
const fs = require("fs");
const CML = require("@dcspark/cardano-multiplatform-lib-nodejs");

const hex = (b) => Buffer.from(b).toString("hex");

function main(path) {
  const env = JSON.parse(fs.readFileSync(path, "utf8"));
  if (env.type !== "NodeOperationalCertificate") {
    throw new Error(`envelope type ${JSON.stringify(env.type)}, want NodeOperationalCertificate`);
  }
  const cbor = Buffer.from(env.cborHex, "hex");
  // The file holds [operational_cert, cold_vkey]: a 2-array whose second
  // element is a 32-byte byte string (0x58 0x20 ‖ vk). CML's OperationalCert
  // is the inner 4-array that block headers carry; it must take up exactly
  // the bytes in between.
  if (cbor.length < 1 + 34 || cbor[0] !== 0x82) {
    throw new Error("cert is not a CBOR array of 2");
  }
  const cold = cbor.subarray(cbor.length - 34);
  if (cold[0] !== 0x58 || cold[1] !== 0x20) {
    throw new Error("second element is not a 32-byte byte string");
  }
  const coldVK = cold.subarray(2);
  const body = cbor.subarray(1, cbor.length - 34);
  const oc = CML.OperationalCert.from_cbor_bytes(body);

  const hot = oc.hot_vkey().to_raw_bytes();
  const n = oc.sequence_number();
  const period = oc.kes_period();
  const sigma = oc.sigma();

  // The 48 bytes the cold key signs: hot_vkey ‖ u64 BE n ‖ u64 BE period.
  const signable = Buffer.alloc(48);
  Buffer.from(hot).copy(signable, 0);
  signable.writeBigUInt64BE(BigInt(n), 32);
  signable.writeBigUInt64BE(BigInt(period), 40);

  const pk = CML.PublicKey.from_bytes(coldVK);
  const poolHash = pk.hash();
  return {
    hot_vkey: hex(hot),
    sequence_number: n.toString(),
    kes_period: period.toString(),
    sigma: sigma.to_hex(),
    cold_vkey: hex(coldVK),
    signable: hex(signable),
    sigma_valid: pk.verify(signable, sigma),
    pool_id: poolHash.to_hex(),
    pool_id_bech32: poolHash.to_bech32("pool"),
    body_roundtrip: hex(oc.to_cbor_bytes()) === hex(body),
  };
}

try {
  process.stdout.write(JSON.stringify(main(process.argv[2])) + "\n");
} catch (e) {
  process.stderr.write(`opcert.js: ${e && e.message ? e.message : e}\n`);
  process.exit(1);
}
