// Package cold wires the kesrotate command line (the offline binary). It
// parses flags, asks and prints; the work is done by keys, opcert,
// transfer and ceremony. Nothing here or below may reach a network.
package cold

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/kesrotate/kesrotate/auditlog"
	"github.com/kesrotate/kesrotate/ceremony"
	"github.com/kesrotate/kesrotate/internal/cli"
)

// Version is set at build time with -ldflags -X.
var Version = "dev"

// globals are the flags every kesrotate command sees.
type globals struct {
	env   *cli.Env
	vault string
	keys  keyFlags   // --passphrase-file, --identity, --allow-network (secrets.go)
	audit auditFlags // --operator, --witness (ceremony.go)
}

// Main runs kesrotate with args and returns the exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	env := cli.NewEnv("kesrotate", stdin, stdout, stderr)
	return cli.Run(env, NewRoot(env), args)
}

// NewRoot builds the command tree.
func NewRoot(env *cli.Env) *cobra.Command {
	g := &globals{env: env}
	env.Outputs = outputs
	root := &cobra.Command{
		Use:   "kesrotate",
		Short: "Air-gapped Cardano pool key management and KES rotation",
		Long: `kesrotate runs on the cold machine. It holds the pool cold keys, tracks
op-cert counters and KES periods, issues operational certificates and packs
the hot bundle for the producer.

Exit codes: 0 ok, 1 error, 2 usage (plan adds 1 warn, 2 critical, 3 unknown).`,
		Version:           Version,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	cli.AddGlobalFlags(root, env)
	root.PersistentFlags().StringVar(&g.vault, "vault", "", "vault folder (default $KESROTATE_VAULT)")
	g.keys.register(root)
	g.audit.register(root)
	root.AddCommand(
		newInitCmd(g),
		newPoolCmd(g),
		newRotateCmd(g),
		newVerifyCmd(g),
		newProducerCmd(g),
		newQRCmd(g),
		newPlanCmd(g),
		newVaultCmd(g),
		newBackupCmd(g),
		newAirgapCmd(g),
		newCeremonyCmd(g),
		newFleetCmd(g),
	)
	addRetireCmd(g, root)
	cli.AddHabits(root, []cli.Habit{
		{Path: []string{"node", "key-gen"}, Here: "'kesrotate pool new NAME' makes the cold key, counter and VRF key inside the vault; 'kesrotate pool export-public NAME --out DIR' writes cold.vkey"},
		{Path: []string{"node", "key-gen-KES"}, Here: "'kesrotate rotate POOL' makes a fresh KES key with every cert (or the producer makes it: 'kesrotate-agent kes new')"},
		{Path: []string{"node", "key-gen-VRF"}, Here: "'kesrotate pool new NAME' makes the VRF key; 'kesrotate rotate --with-vrf' sends it to the producer"},
		{Path: []string{"node", "new-counter"}, Here: "the vault keeps each pool's counter; 'kesrotate rotate' takes the next one from the snapshot's on-chain counter"},
		{Path: []string{"node", "issue-op-cert"}, Here: "'kesrotate rotate POOL --producer NAME --snapshot FILE' (alias 'kesrotate issue-op-cert') issues the op cert"},
		{Path: []string{"query", "kes-period-info"}, Here: "on the producer: 'kesrotate-agent status' (alias kes-period-info); here: 'kesrotate verify --cert FILE' or 'kesrotate plan'"},
	})
	withVaultHints(root)
	return root
}

// withVaultHints gives every command the hints of the errors any command
// that changes the vault may meet, whatever it was doing.
func withVaultHints(c *cobra.Command) {
	if run := c.RunE; run != nil {
		c.RunE = func(c *cobra.Command, args []string) error { return vaultHint(run(c, args)) }
	}
	for _, sub := range c.Commands() {
		withVaultHints(sub)
	}
}

func vaultHint(err error) error {
	var ce *cli.Error
	if err == nil || errors.As(err, &ce) {
		return err
	}
	switch {
	case errors.Is(err, ceremony.ErrBusy):
		return cli.Hint(err, "nothing was changed; let the other kesrotate finish, then run this again (the system releases the lock when that process ends)")
	case errors.Is(err, auditlog.ErrConcurrent), errors.Is(err, ceremony.ErrJournalChanged):
		return cli.Hint(err, "another process wrote to the vault at the same time; run 'kesrotate ceremony verify', then this command again")
	case errors.Is(err, ceremony.ErrRefused):
		return airgapHint(err) // any command that opens a secret
	}
	return err
}

func (g *globals) vaultDir() (string, error) {
	if g.vault != "" {
		return g.vault, nil
	}
	if d := g.env.Getenv("KESROTATE_VAULT"); d != "" {
		return d, nil
	}
	return "", cli.Usage(errors.New("no vault given"), "pass --vault DIR or set KESROTATE_VAULT")
}

func (g *globals) openVault() (*ceremony.Vault, error) {
	dir, err := g.vaultDir()
	if err != nil {
		return nil, err
	}
	v, err := ceremony.Open(dir)
	if errors.Is(err, ceremony.ErrNoVault) {
		return nil, cli.Hint(err, fmt.Sprintf("create one with 'kesrotate --vault %s init --network mainnet'", dir))
	}
	if errors.Is(err, ceremony.ErrSecretState) {
		return nil, cli.Hint(err, "nothing was read or changed; vault.json is not signed: take it back from a backup of this vault")
	}
	if errors.Is(err, ceremony.ErrUnsafeFile) {
		return nil, cli.Hint(err, "nothing was read or changed; find out who changed the modes or put a link there before you fix it")
	}
	if err != nil {
		return nil, err
	}
	v.Rand = g.env.Rand
	if v.Audit, err = g.auditContext(); err != nil {
		return nil, err
	}
	g.unlock(v)
	return v, nil
}

// openPoolAt opens the vault and the pool called name, and reads the clock:
// what most pool commands start with.
func (g *globals) openPoolAt(name string) (*ceremony.Vault, *ceremony.Pool, time.Time, error) {
	v, err := g.openVault()
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	p, err := g.openPool(v, name)
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	now, err := g.env.Now()
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	return v, p, now, nil
}

func (g *globals) openPool(v *ceremony.Vault, name string) (*ceremony.Pool, error) {
	p, err := v.Pool(name)
	if errors.Is(err, ceremony.ErrNoPool) {
		return nil, cli.Hint(err, "'kesrotate pool list' shows the pools in this vault")
	}
	return p, err
}
