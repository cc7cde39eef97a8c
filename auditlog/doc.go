// Package auditlog is the tamper-evident ceremony log of a kesrotate vault.
//
// Every state-changing action on the cold machine appends one Entry. The
// entries are the records of an RFC 6962 Merkle tree
// (golang.org/x/mod/sumdb/tlog; record hash = tlog.RecordHash of the line
// without its newline), and after every entry the vault's audit key signs a
// checkpoint: a C2SP signed note (golang.org/x/mod/sumdb/note) whose body is
// a C2SP tlog-checkpoint with origin "kesrotate.vault/<vault id>". The audit
// key is an Ed25519 note key with that same name, bound to each pool by one
// signature of the pool's cold key over BindingMessage.
//
// Layout of a log directory (an exported package is the same plus
// SHA256SUMS and the caller's extra files):
//
//	entries.jsonl          one canonical JSON Entry per line, "\n"-terminated
//	checkpoint             latest signed checkpoint note
//	checkpoints/<n>.note   the checkpoint issued at tree size n, for n = 1..size
//	audit.pub              audit note verifier key text, "\n"-terminated
//	SHA256SUMS             packages only: "<sha256 hex>  <path>\n", sorted by path
//
// The audit signing key is not part of the layout: the caller keeps it
// with the vault's secrets (WriteSignerKey, ReadSignerKey).
//
// Verify needs only public data: the directory, optionally checkpoints held
// elsewhere (by the producer's agent, which may Countersign them) and the
// pools' cold vkeys. Truncating the log and all its later checkpoints
// together is detectable only with such an outside checkpoint.
//
// No entry field is meant to hold key material, and none can hold a
// private key in a form that passes validation by accident; see Entry.
package auditlog
