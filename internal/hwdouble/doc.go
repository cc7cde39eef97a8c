// Package hwdouble stands in for a Ledger running the Cardano app, driven
// by cardano-hw-cli, in tests and rehearsals: kesrotate never talks to a
// device (the cold binary links no USB or process-execution code), it
// writes the files cardano-hw-cli reads and prints the command; the
// operator runs it; tests run this double in its place.
//
// The key material is a BIP-39 mnemonic's, derived as the devices do:
//
//   - CIP-3 (cardano-foundation/CIPs CIP-0003/Icarus.md and
//     Ledger_BitBox02.md): the Icarus and Ledger master keys, pinned by
//     their test vectors;
//   - CIP-1852 and CIP-1853: BIP32-Ed25519 child keys (Khovratovich and
//     Law, with cardano-crypto's "V2" arithmetic), pool cold keys at
//     1853'/1815'/0'/N', pinned by CIP-11's derivation vector and by the
//     pool cold key and signed op cert of cardano-hw-cli's own Ledger tests
//     (test/integration/ledger/node/signingFiles.ts and opCert.ts): with
//     the Ledger derivation of TestMnemonic the double reproduces the real
//     device's bytes;
//   - the Cardano app (vacuumlabs/ledger-app-cardano-shelley src/signOpCert.c,
//     src/bip44.c, src/securityPolicy.c): an op cert is the 48 bytes
//     KES vkey ‖ u64 BE counter ‖ u64 BE period signed with the key of a
//     pool cold key path (any other path is denied), after the screens
//     "Start new operational certificate?", the path, the pool id and the
//     KES key in bech32, the period, the counter and "Confirm".
//
// Main is cardano-hw-cli's node key-gen and node issue-op-cert, with its
// flags, files, counter increment and messages (see Main). The double
// shares no code with kesrotate: its BIP32, Ed25519 signing with extended
// keys, CBOR and file formats are written here from those sources.
package hwdouble
