package cold

import (
	"errors"
	"fmt"
	"io/fs"

	"filippo.io/age"
	"github.com/spf13/cobra"

	"github.com/kesrotate/kesrotate/backup"
	"github.com/kesrotate/kesrotate/ceremony"
	"github.com/kesrotate/kesrotate/internal/cli"
)

func newBackupCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "backup",
		Short: "SLIP-39 shares of a cold key, encrypted copies of the vault, and their restores",
		Args:  cli.Args(cobra.NoArgs),
	}
	c.AddCommand(newBackupSharesCmd(g), newBackupRestoreCmd(g), newBackupVaultCmd(g), newBackupRestoreVaultCmd(g))
	return c
}

// slip39Passphrase reads the optional SLIP-39 passphrase file (first
// line): no file, or an empty first line, is no passphrase, which SLIP-39
// allows.
func slip39Passphrase(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	return readPassphraseFile(path, "--slip39-passphrase-file", "SLIP-39 passphrase", true)
}

type sharesOptions struct {
	threshold, shares int
	out, passFile     string
}

func newBackupSharesCmd(g *globals) *cobra.Command {
	o := &sharesOptions{}
	c := &cobra.Command{
		Use:   "shares POOL --threshold K --shares N --out DIR [--slip39-passphrase-file F]",
		Short: "Split the pool's cold key seed into SLIP-39 mnemonic shares",
		Long: `Split the pool's cold key seed into N SLIP-39 mnemonic shares (33 words
each), any K of which rebuild it ('kesrotate backup restore'). Each share is
written as DIR/POOL-share-I-of-N.txt (its words, with a header naming the
pool) and DIR/POOL-share-I-of-N.png (a QR code of the words) to print.
The shares follow SLIP-39 and open in other SLIP-39 implementations.

Keep the shares apart (one per place or person); fewer than K reveal
nothing. Delete the files from this machine once printed. A SLIP-39
passphrase (--slip39-passphrase-file) is needed again to restore: a wrong one
rebuilds a different key without any error.`,
		Args: cli.Args(cobra.ExactArgs(1)),
		RunE: func(c *cobra.Command, args []string) error {
			pass, err := slip39Passphrase(o.passFile)
			if err != nil {
				return err
			}
			_, p, now, err := g.openPoolAt(args[0])
			if err != nil {
				return err
			}
			set, err := backup.Split(p, o.threshold, o.shares, pass)
			if errors.Is(err, backup.ErrNoSeed) {
				return cli.Hint(err, "an extended (BIP32) cold key cannot be split; back it up with 'kesrotate backup vault'")
			}
			if err != nil {
				return secretError(err)
			}
			files, err := set.WriteShares(o.out, now)
			if errors.Is(err, backup.ErrNotLogged) {
				return cli.Hint(err, "note the backup by hand")
			}
			if errors.Is(err, fs.ErrExist) {
				return cli.Hint(err, "share files are never overwritten: write into an empty folder")
			}
			if err != nil {
				return err
			}
			if g.env.JSON {
				return g.env.PrintJSON(sharesOutput{Pool: p.Meta.Name, PoolID: set.PoolID.Hex(), PoolIDBech32: set.PoolID.Bech32(),
					Threshold: set.Threshold, Shares: len(set.Shares), Files: nonNil(files)})
			}
			fmt.Fprintf(g.env.Stdout, "pool %s: %d SLIP-39 shares, any %d rebuild the cold key\n  pool id  %s\n", p.Meta.Name, len(set.Shares), set.Threshold, set.PoolID.Bech32())
			for _, f := range files {
				fmt.Fprintf(g.env.Stdout, "  %s\n", f)
			}
			g.env.Warn("the share files are secret: print them, check each print, then shred the files on this machine")
			return nil
		},
	}
	c.Flags().IntVar(&o.threshold, "threshold", 0, "shares needed to rebuild the key (K)")
	c.Flags().IntVar(&o.shares, "shares", 0, "shares to make (N, at most 16)")
	c.Flags().StringVar(&o.out, "out", "", "folder for the share files (created 0700)")
	c.Flags().StringVar(&o.passFile, "slip39-passphrase-file", "", "file holding an optional SLIP-39 passphrase (printable ASCII)")
	for _, f := range []string{"threshold", "shares", "out"} {
		_ = c.MarkFlagRequired(f)
	}
	return c
}

type restoreOptions struct {
	shares   []string
	passFile string
	next     uint64
	vrfSkey  string
}

func newBackupRestoreCmd(g *globals) *cobra.Command {
	o := &restoreOptions{}
	c := &cobra.Command{
		Use:   "restore NAME --share F… [--slip39-passphrase-file F] [--next-counter N] [--vrf-skey F]",
		Short: "Rebuild a pool in this vault from K SLIP-39 shares",
		Long: `Rebuild a pool's cold key from any K of its SLIP-39 share files (words,
'#' comment lines ignored) and add it to this vault as NAME. The pool id is
shown: compare it with the one you know. Too few, damaged, mixed or repeated
shares are refused and nothing is added.

The vault's counter file starts at --next-counter (default 0): give the
number after the last cert you know was issued, so that the counter rules
accept the chain's counter.`,
		Args: cli.Args(cobra.ExactArgs(1)),
		RunE: func(c *cobra.Command, args []string) error {
			pass, err := slip39Passphrase(o.passFile)
			if err != nil {
				return err
			}
			ro := backup.RestoreOptions{Passphrase: pass, NextCounter: o.next}
			var files []backup.ShareFile
			for _, f := range o.shares {
				b, err := cli.ReadInput(f, "--share", "give the share files (.txt)")
				if err != nil {
					return err
				}
				files = append(files, backup.ShareFile{Name: f, Data: b})
			}
			ro.Shares, ro.PoolID, err = backup.ParseShareFiles(files)
			switch {
			case errors.Is(err, backup.ErrSharesMixed):
				return cli.Hint(err, "give the shares of one pool")
			case err != nil:
				return cli.Hint(err, "a share file holds the words of one share; lines starting with '#' are ignored")
			}
			if o.vrfSkey != "" {
				if ro.VRFSkey, err = readInput(o.vrfSkey, "--vrf-skey"); err != nil {
					return err
				}
			}
			v, err := g.openVault()
			if err != nil {
				return err
			}
			now, err := g.env.Now()
			if err != nil {
				return err
			}
			p, err := backup.RestorePool(v, args[0], ro, now)
			switch {
			case errors.Is(err, backup.ErrTooFewShares):
				return cli.Hint(err, "give at least the threshold number of shares (the share files say how many)")
			case errors.Is(err, backup.ErrShareRepeated):
				return cli.Hint(err, "give each share once")
			case errors.Is(err, backup.ErrSharesMixed):
				return cli.Hint(err, "all shares must come from one 'backup shares' run")
			case errors.Is(err, backup.ErrShareInvalid), errors.Is(err, backup.ErrSharesCorrupt):
				return cli.Hint(err, "check the words against the printed share; use another share if one is damaged")
			case errors.Is(err, backup.ErrSharePool):
				return cli.Hint(err, "check the SLIP-39 passphrase (--slip39-passphrase-file)")
			case err != nil:
				return poolAddError(err)
			}
			if o.next == 0 {
				g.env.Warn("counter file starts at 0: if this pool has minted, the chain's counter will be ahead; --next-counter N sets it")
			}
			return printPoolSummary(g, p, "restored")
		},
	}
	c.Flags().StringSliceVar(&o.shares, "share", nil, "share file (repeat, or comma-separated)")
	c.Flags().StringVar(&o.passFile, "slip39-passphrase-file", "", "file holding the SLIP-39 passphrase used when splitting")
	c.Flags().Uint64Var(&o.next, "next-counter", 0, "next op-cert counter for the vault's counter file")
	c.Flags().StringVar(&o.vrfSkey, "vrf-skey", "", "cardano-cli VRF signing key to add (optional)")
	_ = c.MarkFlagRequired("share")
	return c
}

func newBackupVaultCmd(g *globals) *cobra.Command {
	var to string
	var ef encryptionFlags
	c := &cobra.Command{
		Use:   "vault --out DIR [--recipient age1…]",
		Short: "Write an encrypted copy of the whole vault (keys, journals, log) for a second stick",
		Long: `Write the whole vault as one age-encrypted tar file into DIR: keys,
journals, certs, the ceremony log. An encrypted vault's copy is encrypted
like its keys (the same passphrase, or the same recipient); a plaintext
vault's copy needs a new passphrase or --recipient. The file is read back
and compared, and the backup is recorded in the ceremony log.
'kesrotate backup restore-vault FILE' verifies it before use.`,
		Args: cli.Args(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			v, err := g.openVault()
			if err != nil {
				return err
			}
			now, err := g.env.Now()
			if err != nil {
				return err
			}
			var e *ceremony.Encryption
			if v.CopyNeedsEncryption() || ef.recipient != "" { // --recipient: the operator asks for another
				if e, err = g.newEncryption(ef); err != nil {
					return err
				}
				defer wipeEncryption(e)
			}
			res, err := backup.WriteVault(v, to, e, now)
			if errors.Is(err, fs.ErrExist) {
				return cli.Hint(err, "backups are never overwritten")
			}
			if err != nil {
				return secretError(err)
			}
			if g.env.JSON {
				return g.env.PrintJSON(backupOutput{File: res.File, SHA256: res.SHA256, Bytes: res.Size, Files: res.Files})
			}
			fmt.Fprintf(g.env.Stdout, "vault backup %s\n  %d files, %d bytes, sha256 %s\n", res.File, res.Files, res.Size, res.SHA256)
			return nil
		},
	}
	c.Flags().StringVar(&to, "out", "", "folder to write the backup into (e.g. the second stick)")
	ef.register(c)
	_ = c.MarkFlagRequired("out")
	return c
}

func newBackupRestoreVaultCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "restore-vault FILE",
		Short: "Restore a vault backup into --vault DIR after verifying it",
		Long: `Decrypt a 'backup vault' file (passphrase from the terminal or
--passphrase-file, or --identity for a recipient), unpack it beside the
target, and check it before use: vault.json, every pool's public keys and
issuance journal, and the ceremony log (auditlog verification bound to every
pool's cold vkey). Only a backup that passes becomes the vault at --vault,
which must not exist or be empty.`,
		Args: cli.Args(cobra.ExactArgs(1)),
		RunE: func(c *cobra.Command, args []string) error {
			dir, err := g.vaultDir()
			if err != nil {
				return err
			}
			b, err := cli.ReadInput(args[0], "FILE", "give the .tar.age file 'kesrotate backup vault' wrote")
			if err != nil {
				return err
			}
			var ids []age.Identity
			if g.keys.identityFile != "" {
				if ids, err = g.identities(); err != nil {
					return err
				}
			} else {
				p, err := g.passphrase("backup passphrase", false)
				if err != nil {
					return err
				}
				id, err := ceremony.PassphraseIdentity(p)
				for i := range p {
					p[i] = 0
				}
				if err != nil {
					return err
				}
				ids = []age.Identity{id}
			}
			v, rep, err := backup.RestoreVault(b, dir, ids...)
			switch {
			case errors.Is(err, ceremony.ErrVaultExists):
				return cli.Hint(err, "restore into a new folder")
			case errors.Is(err, backup.ErrVerify), errors.Is(err, backup.ErrArchive):
				return cli.Hint(err, "nothing was restored; this backup is damaged or was changed: try another copy")
			case err != nil:
				return secretError(err)
			}
			if g.env.JSON {
				return g.env.PrintJSON(restoreVaultOutput{Vault: dir, VaultID: v.Meta.ID, Pools: nonNil(rep.Pools), Files: rep.Files,
					LogEntries: rep.LogEntries, Certs: rep.Certs, SecretsMode: v.SecretsMode()})
			}
			fmt.Fprintf(g.env.Stdout, "vault %s restored and verified: %d files, pools %v, log of %d entries (%d certs)\n",
				dir, rep.Files, rep.Pools, rep.LogEntries, rep.Certs)
			return nil
		},
	}
}
