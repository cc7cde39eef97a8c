// Package keys reads and writes the Cardano keys a stake pool's operator
// handles, byte for byte as cardano-cli does: the cold key and its pool id
// (blake2b-224 of the cold vkey, hex or bech32 pool1…), the Sum6KES key of
// an op cert (608 bytes, or regenerated from its 32-byte seed), the Praos
// VRF key, the op-cert issue counter file, and the TextEnvelope JSON they
// are all kept in. Secret keys print as [REDACTED] under every fmt verb and
// are wiped by their Wipe method; nothing here touches the disk.
package keys
