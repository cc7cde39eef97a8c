package cli

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/kesrotate/kesrotate/opcert"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// FlagAliases maps the other names a flag is known by to the one name both
// binaries use for it: the names earlier releases used, and cardano-cli's
// and cardano-node's where an operator would type them from habit. Every
// command accepts them (pflag normalizes at parse time); help shows only
// the canonical name.
var FlagAliases = map[string]string{
	// The pool's cold verification key.
	"pool-cold-vkey":             "cold-vkey",
	"pool-vkey":                  "cold-vkey",
	"cold-verification-key-file": "cold-vkey",
	// Signing keys are -skey, as in pool import's --cold-skey.
	"kes-key":         "kes-skey",
	"shelley-kes-key": "kes-skey",
	"vrf-key":         "vrf-skey",
	"shelley-vrf-key": "vrf-skey",
	// The op cert, as cardano-node and cardano-cli name it.
	"shelley-operational-certificate": "cert",
	"op-cert-file":                    "cert",
	// The chain's slot a check is made at.
	"at-slot": "tip-slot",
	// Where output goes.
	"to":          "out",
	"out-file":    "out",
	"output-file": "out",
}

func normalizeFlag(_ *pflag.FlagSet, name string) pflag.NormalizedName {
	if c, ok := FlagAliases[name]; ok {
		return pflag.NormalizedName(c)
	}
	return pflag.NormalizedName(name)
}

// useCanonicalFlagNames makes every command of root take the aliases.
func useCanonicalFlagNames(root *cobra.Command) {
	root.SetGlobalNormalizationFunc(normalizeFlag)
}

// networkChoice is one network named by --network, --mainnet or
// --testnet-magic: whichever is given sets the same string, and two that
// disagree are refused.
type networkChoice struct {
	target *string
	by     *string // the flag that set it
}

type networkFlag struct {
	choice networkChoice
	name   string // the flag
	kind   string // "name", "magic" or "bool"
}

func (v *networkFlag) String() string {
	if v.kind == "bool" {
		return "false"
	}
	if v.choice.target == nil {
		return ""
	}
	return *v.choice.target
}

func (v *networkFlag) Type() string {
	switch v.kind {
	case "magic":
		return "N"
	case "bool":
		return "bool"
	}
	return "string"
}

func (v *networkFlag) Set(s string) error {
	name := s
	switch v.kind {
	case "magic":
		m, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return fmt.Errorf("%q is not a network magic (a number, like 1 for preprod)", s)
		}
		n, err := opcert.NetworkByMagic(uint32(m))
		if err != nil {
			return fmt.Errorf("magic %d is not mainnet (764824073), preprod (1) or preview (2); give --genesis FILE of that network", m)
		}
		name = n.Name
	case "bool":
		if b, err := strconv.ParseBool(s); err != nil || !b {
			return fmt.Errorf("--mainnet takes no value")
		}
		name = "mainnet"
	}
	if *v.choice.by != "" && *v.choice.target != name {
		return fmt.Errorf("--%s says %s but --%s already said %s", v.name, name, *v.choice.by, *v.choice.target)
	}
	*v.choice.target, *v.choice.by = name, v.name
	return nil
}

// IsBoolFlag lets --mainnet stand alone.
func (v *networkFlag) IsBoolFlag() bool { return v.kind == "bool" }

// NetworkFlags registers --network NAME with cardano-cli's --mainnet and
// --testnet-magic N beside it; all three set *p to the network's name
// (mainnet, preprod or preview). Register --genesis first, if the command
// has it: it excludes all three.
func NetworkFlags(c *cobra.Command, p *string, usage string) {
	by := new(string)
	ch := networkChoice{target: p, by: by}
	f := c.Flags()
	f.Var(&networkFlag{choice: ch, name: "network", kind: "name"}, "network", usage)
	f.Var(&networkFlag{choice: ch, name: "testnet-magic", kind: "magic"}, "testnet-magic", "the network by magic, as cardano-cli takes it (1 preprod, 2 preview)")
	mf := f.VarPF(&networkFlag{choice: ch, name: "mainnet", kind: "bool"}, "mainnet", "", "the network is mainnet (as cardano-cli's --mainnet)")
	mf.NoOptDefVal = "true"
	if f.Lookup("genesis") != nil {
		for _, n := range []string{"network", "testnet-magic", "mainnet"} {
			c.MarkFlagsMutuallyExclusive(n, "genesis")
		}
	}
}

// Habit is a cardano-cli command path an operator may type, and what does
// its job here.
type Habit struct {
	Path []string // e.g. {"node", "issue-op-cert"}
	Here string   // the command to run instead, and why
}

// AddHabits adds hidden commands for cardano-cli paths that have no
// one-to-one equivalent: each is a usage error (exit 2) that names the
// command doing that job here, so the habit leads somewhere instead of to
// "unknown command". Where a command does the same job it is an alias of
// that command instead (cobra's Aliases), not a habit.
func AddHabits(root *cobra.Command, habits []Habit) {
	for _, h := range habits {
		parent := root
		for _, name := range h.Path[:len(h.Path)-1] {
			var next *cobra.Command
			for _, c := range parent.Commands() {
				if c.Name() == name {
					next = c
				}
			}
			if next == nil {
				next = &cobra.Command{Use: name, Hidden: true, Short: "cardano-cli habits: names the command that does this here",
					DisableFlagParsing: true,
					RunE: func(c *cobra.Command, args []string) error {
						return Usage(fmt.Errorf("'%s' is cardano-cli's; %s does not have it", strings.Join(append(strings.Fields(strings.TrimPrefix(c.CommandPath(), root.Name()+" ")), args...), " "), root.Name()),
							fmt.Sprintf("run '%s --help' for its commands", root.Name()))
					}}
				parent.AddCommand(next)
			}
			parent = next
		}
		h := h
		parent.AddCommand(&cobra.Command{
			Use:                h.Path[len(h.Path)-1],
			Hidden:             true,
			DisableFlagParsing: true, // cardano-cli's flags: not ours to parse
			RunE: func(c *cobra.Command, _ []string) error {
				return Usage(fmt.Errorf("'%s' is cardano-cli's; %s does not have it", strings.Join(h.Path, " "), root.Name()), h.Here)
			},
		})
	}
}
