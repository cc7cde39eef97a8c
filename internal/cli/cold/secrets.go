package cold

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"filippo.io/age"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/kesrotate/kesrotate/auditlog"
	"github.com/kesrotate/kesrotate/ceremony"
	"github.com/kesrotate/kesrotate/internal/cli"
)

// keyFlags are the global flags that say how secrets are reached.
type keyFlags struct {
	passphraseFile string
	identityFile   string
	allowNetwork   bool
}

func (k *keyFlags) register(root *cobra.Command) {
	f := root.PersistentFlags()
	f.StringVar(&k.passphraseFile, "passphrase-file", "", "read the vault passphrase from this file instead of the terminal")
	f.StringVar(&k.identityFile, "identity", "", "age identity file that opens a vault encrypted to a recipient")
	f.BoolVar(&k.allowNetwork, "allow-network", false, "open secrets of a --require-airgap vault on a machine with network (logged)")
}

// unlock tells v how to ask for its passphrase or identity, how to read
// the air gap, and whether the operator allowed a network (--allow-network):
// the vault decides before its first secret is opened.
func (g *globals) unlock(v *ceremony.Vault) {
	v.Unlock(ceremony.Access{
		Passphrase: func() ([]byte, error) { return g.passphrase("vault passphrase", false) },
		Identities: g.identities,
		Airgap: func() ([]string, error) {
			_, found, err := g.airgapCheck()
			return found, err
		},
		AllowNetwork: g.keys.allowNetwork,
		Now:          g.env.Now,
		Warn:         g.airgapWarning,
	})
}

// passphrase reads a passphrase from --passphrase-file (its first line)
// or, without echo, from the terminal (asked twice when confirm is set).
// Never from a flag value.
func (g *globals) passphrase(what string, confirm bool) ([]byte, error) {
	if g.keys.passphraseFile != "" {
		p, err := readPassphraseFile(g.keys.passphraseFile, "--passphrase-file", "passphrase", false)
		if err != nil {
			return nil, err
		}
		if confirm {
			if err := ceremony.CheckNewPassphrase(p); err != nil {
				return nil, cli.Hint(fmt.Errorf("--passphrase-file: %w", err), passphraseAdvice, "nothing was changed")
			}
		}
		return p, nil
	}
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil, cli.Hint(fmt.Errorf("no terminal to ask for the %s (use --passphrase-file F): %w", what, err), "pass --passphrase-file F")
	}
	defer tty.Close()
	ask := func(prompt string) ([]byte, error) {
		fmt.Fprintf(tty, "%s: ", prompt)
		p, err := term.ReadPassword(int(tty.Fd()))
		fmt.Fprintln(tty)
		return p, err
	}
	prompt := "Enter " + what
	if confirm {
		prompt += " (leave empty to have one made)"
	}
	p, err := ask(prompt)
	if err != nil {
		return nil, fmt.Errorf("reading the %s: %w", what, err)
	}
	if len(p) == 0 && confirm {
		if p, err = ceremony.NewPassphrase(g.env.Rand); err != nil {
			return nil, err
		}
		fmt.Fprintf(tty, "Your %s is:\n\n    %s\n\nWrite it down now: it is stored nowhere, and without it the vault's keys are lost.\n", what, p)
		what += " you wrote down"
	}
	if len(p) == 0 {
		return nil, cli.Hint(fmt.Errorf("empty %s", what), "type a passphrase, or use --passphrase-file F")
	}
	if confirm {
		if err := ceremony.CheckNewPassphrase(p); err != nil {
			return nil, cli.Hint(err, passphraseAdvice+", or leave the prompt empty to have one made", "nothing was changed")
		}
		again, err := ask("Repeat " + what)
		if err != nil {
			return nil, fmt.Errorf("reading the %s: %w", what, err)
		}
		same := bytes.Equal(p, again)
		for i := range again {
			again[i] = 0
		}
		if !same {
			for i := range p {
				p[i] = 0
			}
			return nil, cli.Hint(fmt.Errorf("the two %ss differ", what), "nothing was changed; run the command again")
		}
	}
	return p, nil
}

// readPassphraseFile is how every passphrase file is read: its first
// line, without the line ending ("\n" or "\r\n"); the rest of what was
// read is wiped. An empty first line is refused unless emptyOK (a SLIP-39
// passphrase may be empty: none). flag and what name the flag and the
// passphrase in errors.
func readPassphraseFile(path, flag, what string, emptyOK bool) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, cli.Hint(fmt.Errorf("%s: %w", flag, err), fmt.Sprintf("give a file holding the %s on its first line", what))
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	p := bytes.Clone(bytes.TrimSuffix(line, []byte("\r")))
	for i := range b {
		b[i] = 0
	}
	if len(p) == 0 && !emptyOK {
		return nil, cli.Hint(fmt.Errorf("%s: the first line is empty", flag), fmt.Sprintf("write the %s on the file's first line", what))
	}
	return p, nil
}

func (g *globals) identities() ([]age.Identity, error) {
	if g.keys.identityFile == "" {
		return nil, cli.Hint(errors.New("this vault is encrypted to an age recipient and no identity was given (use --identity FILE)"), "pass --identity FILE (the age identity file of the vault's recipient)")
	}
	f, err := os.Open(g.keys.identityFile)
	if err != nil {
		return nil, cli.Hint(fmt.Errorf("--identity: %w", err), "give the age identity file")
	}
	defer f.Close()
	ids, err := age.ParseIdentities(f)
	if err != nil {
		return nil, cli.Hint(fmt.Errorf("--identity: %w", err), "give an age identity file (AGE-SECRET-KEY-1…)")
	}
	return ids, nil
}

// encryptionFlags choose the encryption of a new vault, a vault being
// encrypted, or a backup.
type encryptionFlags struct {
	recipient  string
	workFactor int
}

func (e *encryptionFlags) register(c *cobra.Command) {
	c.Flags().StringVar(&e.recipient, "recipient", "", "encrypt to this age recipient (age1…) instead of a passphrase")
	c.Flags().IntVar(&e.workFactor, "scrypt-work-factor", ceremony.DefaultWorkFactor, "scrypt work factor (log2 N) of the passphrase encryption")
	_ = c.Flags().MarkHidden("scrypt-work-factor") // for tests: low values are fast and weak
}

// newEncryption asks for a new passphrase (twice on a terminal) unless a
// recipient is given. The caller wipes e.Passphrase.
func (g *globals) newEncryption(f encryptionFlags) (*ceremony.Encryption, error) {
	if f.recipient != "" {
		return &ceremony.Encryption{Recipient: f.recipient}, nil
	}
	p, err := g.passphrase("new vault passphrase", true)
	if err != nil {
		return nil, err
	}
	return &ceremony.Encryption{Passphrase: p, WorkFactor: f.workFactor}, nil
}

func wipeEncryption(e *ceremony.Encryption) {
	if e != nil {
		for i := range e.Passphrase {
			e.Passphrase[i] = 0
		}
	}
}

// secretError adds hints to the errors of encryption at rest.
func secretError(err error) error {
	switch {
	case errors.Is(err, ceremony.ErrWrongPassphrase):
		return cli.Hint(err, "nothing was changed; check the passphrase (and --passphrase-file) and try again")
	case errors.Is(err, ceremony.ErrWrongIdentity):
		return cli.Hint(err, "give the identity file of the vault's recipient with --identity")
	case errors.Is(err, ceremony.ErrPlaintextLeft):
		return cli.Hint(err, "an earlier 'kesrotate vault encrypt' was interrupted: run it again to finish")
	case errors.Is(err, ceremony.ErrSecretState):
		return cli.Hint(err, "nothing was changed; vault.json or the secret files were changed: compare them with a backup of this vault")
	case errors.Is(err, ceremony.ErrKeysDestroyed):
		return cli.Hint(err, "this pool's keys were retired; restore it from its shares or a vault backup if that was a mistake")
	case errors.Is(err, ceremony.ErrHardwareKey):
		return hwError(err)
	case errors.Is(err, ceremony.ErrRefused):
		return airgapHint(err)
	}
	return err
}

func newVaultCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "vault",
		Short: "Encryption of the vault's secret keys at rest",
		Args:  cli.Args(cobra.NoArgs),
	}
	c.AddCommand(newVaultEncryptCmd(g), newVaultExportKeysCmd(g), newVaultStatusCmd(g))
	return c
}

func newVaultEncryptCmd(g *globals) *cobra.Command {
	var ef encryptionFlags
	c := &cobra.Command{
		Use:   "encrypt [--recipient age1…]",
		Short: "Encrypt the cold and VRF keys of an existing vault",
		Long: `Encrypt every pool's cold.skey and vrf.skey into cold.skey.age and vrf.skey.age
(age, scrypt passphrase from the terminal or --passphrase-file, or to an age
recipient). Each key is written, read back and compared before its plaintext
file is overwritten and removed. On flash media (USB sticks, SSDs) the old
blocks may survive inside the device: for a clean result create the vault
with 'init --encrypt' on a fresh stick instead.

An interrupted run leaves every key readable and is finished by running
the command again.`,
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
			if !v.Encrypted() {
				if e, err = g.newEncryption(ef); err != nil {
					return err
				}
				defer wipeEncryption(e)
			} else if ef.recipient != "" {
				return cli.Usage(errors.New("the vault is already encrypted; --recipient applies only to a plaintext vault"))
			}
			var arg ceremony.Encryption
			if e != nil {
				arg = *e
			}
			res, err := v.Encrypt(arg, now)
			if errors.Is(err, ceremony.ErrAlreadyEncrypted) {
				return cli.Hint(err, "nothing to do")
			}
			if err != nil {
				return secretError(err)
			}
			if g.env.JSON {
				return g.env.PrintJSON(encryptOutput{Mode: res.Mode, Encrypted: nonNil(res.Encrypted)})
			}
			for _, f := range res.Encrypted {
				fmt.Fprintf(g.env.Stdout, "encrypted %s\n", f)
			}
			fmt.Fprintf(g.env.Stdout, "vault secrets: %s (%d files encrypted now)\n", res.Mode, len(res.Encrypted))
			if len(res.Shredded) > 0 {
				g.env.Warn("the plaintext files were overwritten and removed; flash media may still hold old copies")
			}
			return nil
		},
	}
	ef.register(c)
	return c
}

func newVaultStatusCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show how the vault keeps its secrets and whether it requires an air gap",
		Args:  cli.Args(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			v, err := g.openVault()
			if err != nil {
				return err
			}
			out := vaultStatus{SecretsMode: v.SecretsMode(), RequireAirgap: v.Meta.RequireAirgap, Networked: v.Meta.Networked}
			if v.Meta.Secrets != nil {
				out.Recipient = v.Meta.Secrets.Recipient
			}
			if g.env.JSON {
				return g.env.PrintJSON(out)
			}
			fmt.Fprintf(g.env.Stdout, "secrets         %s\nrequire airgap  %v\n", v.SecretsMode(), v.Meta.RequireAirgap)
			if v.Meta.Networked {
				fmt.Fprintf(g.env.Stdout, "networked       true (a rehearsal or test vault: no air-gap warnings)\n")
			}
			return nil
		},
	}
}

func newVaultExportKeysCmd(g *globals) *cobra.Command {
	var out string
	var plaintext bool
	c := &cobra.Command{
		Use:   "export-keys POOL --out DIR --plaintext",
		Short: "Write the pool's cold.skey and vrf.skey in plaintext cardano-cli format (logged)",
		Long: `Write the pool's secret keys in plaintext cardano-cli format into DIR.
This takes them out of the vault's protection, so it needs --plaintext and
is recorded in the ceremony log as an override.`,
		Args: cli.Args(cobra.ExactArgs(1)),
		RunE: func(c *cobra.Command, args []string) error {
			if !plaintext {
				return cli.Usage(errors.New("exporting secret keys writes them in plaintext"), "add --plaintext if that is what you want (it is logged)")
			}
			_, p, now, err := g.openPoolAt(args[0])
			if err != nil {
				return err
			}
			files, err := p.ExportSecrets(out, now)
			if errors.Is(err, fs.ErrExist) {
				return cli.Hint(err, "secret files are never overwritten: export into an empty folder")
			}
			if errors.Is(err, auditlog.ErrUnsealed) {
				return ceremonyHint(err)
			}
			if err != nil {
				return secretError(err)
			}
			g.env.Warn("plaintext secret keys written to %s: move them where they belong and shred them here", out)
			if g.env.JSON {
				return g.env.PrintJSON(filesOutput{Files: nonNil(files)})
			}
			for _, f := range files {
				fmt.Fprintln(g.env.Stdout, f)
			}
			return nil
		},
	}
	c.Flags().StringVar(&out, "out", "", "folder to write the plaintext keys into (created 0700)")
	c.Flags().BoolVar(&plaintext, "plaintext", false, "confirm that the keys leave the vault unencrypted")
	_ = c.MarkFlagRequired("out")
	return c
}

// initEncryption applies init's --encrypt, --recipient and
// --require-airgap to opts. It returns a cleanup that wipes the passphrase.
func (g *globals) initEncryption(encrypt, requireAirgap bool, ef encryptionFlags, opts *ceremony.InitOptions) (func(), error) {
	opts.RequireAirgap = requireAirgap
	if !encrypt && ef.recipient == "" {
		g.env.Warn("the vault's secret keys will be stored in plaintext; use 'init --encrypt' (or 'kesrotate vault encrypt' later)")
		return func() {}, nil
	}
	e, err := g.newEncryption(ef)
	if err != nil {
		return nil, err
	}
	opts.Encryption = e
	return func() { wipeEncryption(e) }, nil
}

// passphraseAdvice is the hint of a refused new passphrase.
var passphraseAdvice = fmt.Sprintf("use at least %d characters, like four or five random words", ceremony.MinPassphraseChars)
