// Package agent wires the kesrotate-agent command line (the online
// companion on the block producer). The work is done by producer and
// transfer.
package agent

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/kesrotate/kesrotate/internal/cli"
	"github.com/kesrotate/kesrotate/producer"
)

// Version is set at build time with -ldflags -X.
var Version = "dev"

type globals struct {
	env *cli.Env
	dir string
}

// Main runs kesrotate-agent with args and returns the exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	env := cli.NewEnv("kesrotate-agent", stdin, stdout, stderr)
	return cli.Run(env, NewRoot(env), args)
}

// NewRoot builds the command tree.
func NewRoot(env *cli.Env) *cobra.Command {
	g := &globals{env: env}
	env.Outputs = outputs
	root := &cobra.Command{
		Use:   "kesrotate-agent",
		Short: "Install kesrotate bundles on a Cardano block producer",
		Long: `kesrotate-agent runs on the block producer. It owns the producer's age
identity, signs chain snapshots for the cold machine, and installs the
bundles it sends.

Exit codes: 0 ok, 1 error, 2 usage.`,
		Version: Version,
	}
	cli.AddGlobalFlags(root, env)
	root.PersistentFlags().StringVar(&g.dir, "dir", "", "agent folder (default $KESROTATE_AGENT_DIR)")
	root.AddCommand(newInitCmd(g), newEnrollmentCmd(g), newSnapshotCmd(g), newInstallCmd(g), newRollbackCmd(g), newStatusCmd(g), newKESCmd(g), newCheckpointCmd(g), newCheckCmd(g), newConfigCmd(g), newDemoteCmd(g), newPromoteCmd(g), newPeerCmd(g), newRelayCmd(g), newMithrilCmd(g))
	cli.AddHabits(root, []cli.Habit{
		{Path: []string{"query", "kes-period-info"}, Here: "'kesrotate-agent status' (alias 'kesrotate-agent kes-period-info') reports the installed cert against the chain"},
		{Path: []string{"query", "tip"}, Here: "'kesrotate-agent status' shows the node's tip and KES period"},
		{Path: []string{"node", "key-gen-KES"}, Here: "'kesrotate-agent kes new' makes the KES key on this producer (KES-on-producer mode)"},
		{Path: []string{"node", "issue-op-cert"}, Here: "op certs are issued on the cold machine: 'kesrotate rotate'; install the bundle here with 'kesrotate-agent install'"},
	})
	return root
}

func (g *globals) agentDir() (string, error) {
	if g.dir != "" {
		return g.dir, nil
	}
	if d := g.env.Getenv("KESROTATE_AGENT_DIR"); d != "" {
		return d, nil
	}
	return "", cli.Usage(errors.New("no agent folder given"), "pass --dir DIR or set KESROTATE_AGENT_DIR")
}

func (g *globals) open() (*producer.Agent, error) {
	dir, err := g.agentDir()
	if err != nil {
		return nil, err
	}
	a, err := producer.Open(dir)
	if errors.Is(err, producer.ErrNoAgent) {
		return nil, cli.Hint(err, fmt.Sprintf("set one up with 'kesrotate-agent --dir %s init …'", dir))
	}
	if a != nil {
		a.Notify = func(m string) { fmt.Fprintln(g.env.Stderr, m) }
	}
	return a, err
}
