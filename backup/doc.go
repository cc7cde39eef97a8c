// Package backup keeps copies of a kesrotate vault's keys somewhere other
// than the vault's stick, and brings them back. It works on an open
// ceremony.Vault and writes its own ceremony-log entries through it; the
// vault (package ceremony) knows nothing of it.
//
// There are two kinds of backup.
//
// SLIP-39 shares of one pool's cold key: Split cuts the key's 32-byte seed
// into N mnemonic shares (33 words each), any K of which rebuild it, and
// checks that they do. ShareSet.WriteShares writes each share as a text
// file (a '#' header naming the pool, then the words) and as a QR code to
// print, and records a backup-made entry in the log. The shares follow
// SLIP-39 (github.com/satoshilabs/slips, slip-0039.md) and open in its other
// implementations. RestorePool rebuilds the pool from K shares
// (ParseShareFile reads a share file; CombineShares does the combining and
// names what is wrong with the shares: ErrTooFewShares, ErrShareRepeated,
// ErrSharesMixed, ErrShareInvalid, ErrSharesCorrupt) and adds it to a
// vault as an import. A hardware wallet's key, or a BIP32 extended key, has
// no seed here to split.
//
// An encrypted copy of the whole vault: WriteVault writes the vault folder
// (keys, journals, certs, bundles, the log; not its lock) as one age-encrypted tar
// file, encrypted as the vault encrypts its keys or to a passphrase or
// recipient given (ceremony.(*Vault).CopyEncryption), reads it back,
// compares, and records a backup-made entry holding the file's hash.
// RestoreVault decrypts such a file, reads the archive strictly
// (ReadArchive: folders and regular files only, clean names, bounded
// sizes), unpacks it beside the destination with no more than a new
// vault's file modes, and verifies it — vault.json, each pool's public keys
// and issuance journal, and the ceremony log with auditlog.Verify bound to
// every pool's cold vkey — before it moves it into place. A backup that
// fails anything (ErrArchive, ErrVerify) leaves nothing behind.
//
// Every function that changes a vault holds its lock (ceremony.ErrBusy
// when another process does) and takes the time as a value: the caller's
// clock, which the log entries carry. When a backup is written but its log
// entry is not, the error wraps ErrNotLogged and the files stay.
//
// Shares and their options print as [REDACTED] (Mnemonic, RestoreOptions).
package backup
