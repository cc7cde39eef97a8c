package agent

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/kesrotate/kesrotate/internal/cli"
	"github.com/kesrotate/kesrotate/opcert"
	"github.com/kesrotate/kesrotate/producer"
	"github.com/kesrotate/kesrotate/transfer"
)

type installOptions struct {
	scan           []string
	chain          chainFlags
	noSignal       bool
	confirmTimeout time.Duration
	signerTimeout  time.Duration
}

func newInstallCmd(g *globals) *cobra.Command {
	o := &installOptions{}
	c := &cobra.Command{
		Use:   "install BUNDLE… | --scan IMG… [--tip-slot S [--onchain-counter N|none]] [--no-signal]",
		Short: "Verify a bundle, install it atomically, SIGHUP the node and confirm",
		Long: `Decrypt a bundle with the producer identity and, before touching anything,
check it: the pinned pool and network, this producer, the cert signature,
the KES key (the cert's, never evolved, signing at the current evolution),
the VRF key (present, the one installed), no downgrade or replay of the
installed cert, the on-chain counter (from the node socket), and the cert
window containing the current KES period.

Then write the set into its own folder under DIR/sets/, point DIR/current
at it with one rename (the node's three paths are symlinks into
DIR/current/), send SIGHUP to cardano-node and wait for its metrics or log
to show the new cert. If the node does not take it within
--confirm-timeout, the previous set is restored, the node signalled again,
and the command fails.

The chain's time comes from the node socket, else --tip-slot, else the
clock (--now). A node still syncing (its tip more than --max-tip-lag
behind the clock) is refused: its counter and KES period are old.

Confirmation means the node forges with the new cert: its metrics show the
cert's start period, the chain's KES period and periods remaining, or its
log shows the reload succeeded ('kesrotate-agent check' says what your
node's configuration lets the agent see).

With kes-agent (init --kes-agent-socket) the bundle holds only the cert for
the key kes-agent staged ('kes new'). kes-agent is asked first whether its
KES period is the chain's and it holds that staged key; then kes-agent-control
install-key installs it, the node's cert file follows, and kes-agent's info
and the node's metrics confirm. The node is not signalled (kes-agent pushes
the key to it) and nothing is rolled back: kes-agent keeps no previous key.

With a Mithril signer (init --mithril-signer) the signer is restarted once
the node took the set and must register within --signer-timeout; if it
does not, install fails (exit 1) and says why, and the node keeps the new
set.`,
		Args: cli.Args(func(c *cobra.Command, args []string) error {
			if len(o.scan) > 0 {
				return nil // more images: --scan a.png b.png …
			}
			return nil // several bundles: the newest sealed to this producer is installed
		}),
		RunE: func(c *cobra.Command, args []string) error {
			if len(o.scan) > 0 {
				o.scan, args = append(o.scan, args...), nil
			}
			return runInstall(g, o, args)
		},
	}
	f := c.Flags()
	f.StringSliceVar(&o.scan, "scan", nil, "QR frame images (PNG/JPEG) of the bundle, more may follow as arguments; \"-\" reads an MJPEG stream on stdin (a webcam through ffmpeg)")
	o.chain.add(f)
	f.BoolVar(&o.noSignal, "no-signal", false, "install without signalling the node")
	cli.DurationVar(f, &o.confirmTimeout, "confirm-timeout", 60*time.Second, "how long to wait for the node to take the new set")
	signerTimeoutFlag(f, &o.signerTimeout)
	return c
}

// readBundleInput reads the bundle files given, or the bundle scanned
// from QR frames.
func readBundleInput(g *globals, args, scan []string) ([]producer.BundleFile, error) {
	switch {
	case len(args) > 0:
		var files []producer.BundleFile
		for _, name := range args {
			data, err := cli.ReadInput(name, "BUNDLE", "give the *.age file 'kesrotate rotate' wrote")
			if err != nil {
				return nil, err
			}
			files = append(files, producer.BundleFile{Name: name, Data: data})
		}
		return files, nil
	case len(scan) > 0:
		scanFn := func() ([]byte, []string, error) {
			p := g.env.Progress("reading QR images")
			return transfer.ScanProgress(scan, transfer.URBundle, func(done, total int) { p.Update("", done, total) })
		}
		if len(scan) == 1 && scan[0] == "-" { // MJPEG on stdin, e.g. a webcam through ffmpeg
			scanFn = func() ([]byte, []string, error) { return transfer.ScanStream(g.env.Stdin, transfer.URBundle) }
		}
		data, warnings, err := scanFn()
		for _, w := range warnings {
			g.env.Warn("%s", w)
		}
		if errors.Is(err, transfer.ErrIncomplete) {
			return nil, cli.Hint(err, "add the images of more frames, in any order; or on the cold machine 'kesrotate qr frames BUNDLE --out DIR --more 10' shows further frames of the same bundle (no new cert)")
		}
		if err != nil {
			return nil, cli.Hint(err, "scan every frame 'kesrotate rotate --qr' wrote")
		}
		return []producer.BundleFile{{Name: "the scanned frames", Data: data}}, nil
	}
	return nil, cli.Usage(errors.New("install needs a bundle file or --scan IMG…"))
}

func runInstall(g *globals, o *installOptions, args []string) error {
	files, err := readBundleInput(g, args, o.scan)
	if err != nil {
		return err
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	now, err := g.env.Now()
	if err != nil {
		return err
	}
	op, err := a.OpenBundles(files)
	if err != nil {
		return installHint(err)
	}
	b := op.Bundle
	defer b.Wipe()
	if len(files) > 1 {
		g.env.Info("installing %s", op.Name)
		for _, s := range op.Skipped {
			g.env.Info("  passed over %s: %s", s.Name, s.Why)
		}
	}
	v, err := o.chain.chain(g, a, producer.ForInstall)
	if err != nil {
		return err
	}
	if v.Source == producer.SourceClock {
		g.env.Info("no node socket configured: the current KES period comes from the clock")
	}
	var onchain *opcert.OnChain
	if v.OnChainKnown {
		onchain = &v.OnChain
	}
	do := producer.InstallOptions{
		ActivateOptions: producer.ActivateOptions{TipSlot: v.TipSlot, OnChain: onchain, Now: now, BundleHash: op.FileHash},
		NoSignal:        o.noSignal, ConfirmTimeout: o.confirmTimeout,
		Signer:         producer.SignerOptions{Now: now, Timeout: o.signerTimeout},
		KeepCheckpoint: true,
	}
	res, err := a.Install(context.Background(), b, do)
	if res != nil && res.CheckpointErr != nil {
		g.env.Warn("the bundle's ceremony checkpoint was not kept: %v", res.CheckpointErr)
	}
	if err != nil && res != nil && res.SignerErr != nil {
		// The node took the set; only the signer failed.
		if perr := printInstall(g, a, b, res); perr != nil {
			return perr
		}
		return signerHint(err, a)
	}
	if err != nil {
		if res == nil {
			return installHint(err) // stopped before anything changed
		}
		switch state := res.State(); {
		case state == producer.StateUndoFailed:
			return undoFailedHint(err)
		case a.KESAgentMode():
			return kesAgentInstallHint(err, res)
		case state == producer.StateNothingChanged:
			return installHint(err)
		}
		return installStateHint(err, res, a)
	}
	return printInstall(g, a, b, res)
}

func printInstall(g *globals, a *producer.Agent, b *transfer.Bundle, res *producer.InstallResult) error {
	ir, conf := res.Activated, res.Confirmation
	state := res.State()
	switch state {
	case producer.StateKESAgentUnconfirmed:
		g.env.Warn("kes-agent holds the new key, the node is not confirmed: %s", conf.Detail)
	case producer.StateUnconfirmed:
		g.env.Warn("signalled, not confirmed: %s", conf.Detail)
	}
	if g.env.JSON {
		return g.env.PrintJSON(installOutput{Set: ir.Set, Previous: ir.Previous, AlreadyInstalled: ir.Same, Adopted: ir.Adopted,
			Counter: b.Cert.Counter, KESPeriod: b.Cert.KESPeriod, CertHash: b.Cert.Hash(), KESOnProducer: ir.Pending,
			Signalled: res.Signalled, State: state, ConfirmedBy: nonNil(conf.Sources), Report: ir.Report, Role: a.Role(),
			MithrilSigner: res.Signer, MithrilNote: res.SignerNote})
	}
	w := g.env.Stdout
	if ir.Staged {
		if ir.Same {
			fmt.Fprintf(w, "cert #%d from KES period %d is already staged (set %s)\n", b.Cert.Counter, b.Cert.KESPeriod, ir.Set)
		} else {
			fmt.Fprintf(w, "staged cert #%d from KES period %d as set %s\n", b.Cert.Counter, b.Cert.KESPeriod, ir.Set)
		}
		fmt.Fprintf(w, "  %s is a standby: the node's credential paths are unchanged and it was not signalled\n", a.Config.Name)
		fmt.Fprintf(w, "  'kesrotate-agent promote' makes it forge, with proof that the primary has stopped\n")
		return nil
	}
	if ir.Same {
		fmt.Fprintf(w, "cert #%d from KES period %d is already installed (set %s)\n", b.Cert.Counter, b.Cert.KESPeriod, ir.Set)
	} else {
		fmt.Fprintf(w, "installed cert #%d from KES period %d as set %s\n", b.Cert.Counter, b.Cert.KESPeriod, ir.Set)
	}
	if ir.Adopted {
		fmt.Fprintf(w, "  the node's previous files are kept in set %s; its paths are now symlinks into %s/current\n", producer.InitialSet, a.Dir)
	}
	if r := ir.Report; r != nil {
		fmt.Fprintf(w, "  KES period %d, evolution %d, %d periods left, expires %s\n", r.CurrentPeriod, r.Evolution, r.RemainingPeriods, r.Expiry.Format(time.RFC3339))
	}
	if ir.Previous != "" && !ir.Same && !res.KESAgent {
		fmt.Fprintf(w, "  previous set %s is kept for 'kesrotate-agent rollback'\n", ir.Previous)
	}
	switch {
	case res.KESAgent && state == producer.StateConfirmed:
		fmt.Fprintf(w, "kes-agent holds the new key and serves it to the node; the node forges with the new cert (confirmed by %s)\n", joinAnd(conf.Sources))
	case res.KESAgent:
		fmt.Fprintf(w, "kes-agent holds the new key and serves it to the node; %s\n", conf.Detail)
	case state == producer.StateNotSignalled:
		fmt.Fprintf(w, "the node was not signalled: send it SIGHUP (or restart it) to use the new set\n")
	case state == producer.StateConfirmed:
		fmt.Fprintf(w, "signalled %s; the node forges with the new cert (confirmed by %s)\n", res.Signalled, joinAnd(conf.Sources))
	default:
		fmt.Fprintf(w, "signalled %s; not confirmed: %s\n", res.Signalled, conf.Detail)
	}
	if res.Signer != nil {
		printSigner(w, res.Signer)
	}
	if res.SignerNote != "" {
		fmt.Fprintf(w, "the Mithril signer was not restarted: %s\n", res.SignerNote)
	}
	return nil
}

func joinAnd(s []string) string {
	switch len(s) {
	case 0:
		return "nothing"
	case 1:
		return s[0]
	}
	return s[0] + " and " + s[1]
}

// installHint turns the library's errors into one line and a hint.
func installHint(err error) error {
	nothing := "nothing was changed"
	switch {
	case errors.Is(err, transfer.ErrWrongProducer):
		return cli.Hint(err, "bundles open only on the producers they were sealed to: on the cold machine, rotate with --producer naming this one (repeat --producer for a primary and its standbys)", nothing)
	case errors.Is(err, transfer.ErrWrongPool):
		return cli.Hint(err, "this agent serves one pool; use the agent folder of the bundle's pool", nothing)
	case errors.Is(err, transfer.ErrWrongNetwork):
		return cli.Hint(err, "the bundle was made for another network", nothing)
	case errors.Is(err, transfer.ErrDecrypt), errors.Is(err, transfer.ErrFormat):
		return cli.Hint(err, "give the *.age file (or every QR frame) exactly as 'kesrotate rotate' wrote it", nothing)
	case errors.Is(err, producer.ErrNodePath):
		return cli.Hint(err, "create it (owned by the node's user) or fix the path given to 'kesrotate-agent init'", nothing)
	case errors.Is(err, producer.ErrDowngrade):
		return cli.Hint(err, "an old bundle? 'kesrotate-agent status' shows the installed cert; install the newest bundle",
			"if the installed cert is over-incremented, a repair cert is accepted once the chain's counter is known (node socket or --tip-slot with --onchain-counter)", nothing)
	case errors.Is(err, opcert.ErrKESAfterEnd), errors.Is(err, opcert.ErrKESBeforeStart):
		return cli.Hint(err, "the cert's window does not contain the current KES period: rotate again from a fresh snapshot", nothing)
	case errors.Is(err, opcert.ErrCounterOverIncremented), errors.Is(err, opcert.ErrCounterTooSmall):
		return cli.Hint(err, "the chain would reject every block with this cert: rotate again from a fresh snapshot", nothing)
	case errors.Is(err, opcert.ErrBadSignature), errors.Is(err, opcert.ErrWrongColdKey):
		return cli.Hint(err, "the cert was not signed by the pinned pool's cold key", nothing)
	case errors.Is(err, producer.ErrNoVRF):
		return cli.Hint(err, "the first install needs the VRF key: 'kesrotate rotate … --with-vrf'", nothing)
	case errors.Is(err, producer.ErrVRFMismatch):
		return cli.Hint(err, "the node runs another VRF key than the bundle's; check the pool and the node's --shelley-vrf-key", nothing)
	case errors.Is(err, producer.ErrNoPendingKES):
		return cli.Hint(err, "a cert-only bundle needs the KES key made here: 'kesrotate-agent kes new', a fresh snapshot, and rotate again", nothing)
	case errors.Is(err, producer.ErrPermissions):
		return cli.Hint(err, "fix the mode or the --group given at init", nothing)
	case errors.Is(err, producer.ErrLocked):
		return cli.Hint(err, "wait for the other install or rollback to finish", nothing)
	case errors.Is(err, producer.ErrUnmanaged):
		return cli.Hint(err, "a node credential file was replaced by hand; put back the symlink into the agent's current/ or move the file away", nothing)
	case errors.Is(err, producer.ErrNodeCannotSee):
		return cli.Hint(err, cannotSeeHint)
	}
	return cli.Hint(err)
}

// undoFailedHint is the hint of an install or promotion that failed half
// way through making a set active, and whose undo failed too.
func undoFailedHint(err error) error {
	return cli.Hint(err, "the node's paths may lead to either set: 'kesrotate-agent status' shows which set they lead to and whether the node forges",
		"fix what the error names, then run the command again")
}

// kesAgentInstallHint turns a failed install in kes-agent mode into one
// line and hints, from the state the library names: nothing changed,
// kes-agent took the key but the set is not active, or kes-agent took it
// and the set is active but the node's taking it is not confirmed.
func kesAgentInstallHint(err error, res *producer.InstallResult) error {
	switch res.State() {
	case producer.StateKESAgentNotActive:
		return cli.Hint(err, "kes-agent holds the new key and serves it to the node, but the node's cert file still names the previous cert (the set holding the new one was not made active)",
			"fix what the error names, then install the same bundle again: kes-agent already holds its key and is not asked again")
	case producer.StateKESAgentUnconfirmed, producer.StateConfirmed:
		set := res.Activated.Set
		if errors.Is(err, producer.ErrKESAgentMismatch) || errors.Is(err, producer.ErrNotConfirmed) {
			break // their hints below say what kes-agent holds and what to look at
		}
		return cli.Hint(err, fmt.Sprintf("kes-agent took the new key and set %s is active; what failed came after: 'kesrotate-agent status' shows what kes-agent holds and whether the node forges", set),
			"is kes-agent running with --control-address on the socket given to 'kesrotate-agent init --kes-agent-socket', and kes-agent-control on PATH?")
	}
	nothing := "nothing was changed"
	again := "'kesrotate-agent kes new', a fresh 'kesrotate-agent snapshot', 'kesrotate rotate' on the cold machine, then install the new bundle"
	switch {
	case errors.Is(err, producer.ErrKESAgentPeriod):
		return cli.Hint(err, "check the clock of kes-agent's host and the genesis file kes-agent runs with (--genesis-file): on mainnet and preprod a systemStart of the Byron era puts kes-agent's periods ahead of the chain's",
			"kes-agent was not asked to install anything; "+nothing)
	case errors.Is(err, producer.ErrKESAgentStaged):
		return cli.Hint(err, "the cert is for a key kes-agent no longer holds: make a new one — "+again, nothing)
	case errors.Is(err, producer.ErrKESAgentRefused):
		return cli.Hint(err, "kes-agent takes the staged key out before it checks a cert, so that key is gone: "+again, "the node and its files are unchanged")
	case errors.Is(err, producer.ErrKESAgentMode):
		return cli.Hint(err, "rotate with this producer's KES key: "+again, nothing)
	case errors.Is(err, producer.ErrKESAgentMismatch):
		return cli.Hint(err, "'kes-agent-control info' shows what kes-agent holds; 'kesrotate-agent status' compares it with the node's cert")
	case errors.Is(err, producer.ErrNotConfirmed):
		return cli.Hint(err, "kes-agent pushes the key to a node started with --shelley-kes-agent-socket on its service socket: check that the node runs so, and 'kesrotate-agent status'")
	case errors.Is(err, producer.ErrKESAgent):
		return cli.Hint(err, "is kes-agent running with --control-address on the socket given to 'kesrotate-agent init --kes-agent-socket', and kes-agent-control on PATH?", nothing)
	case errors.Is(err, producer.ErrDowngrade):
		return cli.Hint(err, "install the newest bundle; an over-incremented cert is repaired once the chain's counter is known (node socket, or --tip-slot with --onchain-counter)", nothing)
	}
	return installHint(err)
}

// The hints for a node that cannot see or may not read the agent's files.
const (
	cannotSeeHint  = "the node runs in another file system view (a container?): keep the agent folder inside a folder the node mounts ('kesrotate-agent config --link-mode relative'), or let the agent copy the files in place ('--link-mode copy')"
	cannotReadHint = "the node cannot read the files the agent wrote: if it runs as another user, give the agent its group: 'kesrotate-agent config --group GROUP' (files 0640), then install again"
)

// noWayBack says why a failed install was not rolled back: the set was
// the active one already, or there was none before it.
func noWayBack(res *producer.InstallResult) string {
	if res.Activated != nil && res.Activated.Same {
		return "it was the active set already, so there is nothing to return to"
	}
	return "there was no earlier set to return to"
}

// installStateHint says, from the state the library names, what a failed
// install that changed something left behind, and what to do.
func installStateHint(err error, res *producer.InstallResult, a *producer.Agent) error {
	set := res.Activated.Set
	var cause []string // the hint for the cause, when the library names one
	switch {
	case errors.Is(err, producer.ErrNodeCannotSee):
		cause = []string{cannotSeeHint}
	case errors.Is(err, producer.ErrNodeCannotRead):
		cause = []string{cannotReadHint}
	}
	check := "'kesrotate-agent check' tells whether the node's metrics and log let the agent confirm a reload"
	pending := fmt.Sprintf("remove the pending KES key's files from %s once the cause is fixed: the set holds its own copy of the key", filepath.Join(a.Dir, producer.KESDir))
	switch res.State() {
	case producer.StateRolledBack:
		back := fmt.Sprintf("set %s is active again", res.RolledBack.To)
		if errors.Is(err, producer.ErrNodeCannotSee) {
			back += "; the node was not signalled"
		}
		if cause != nil {
			return cli.Hint(err, append(cause, back)...)
		}
		return cli.Hint(err, back+"; the node's reason is above (or in its log)", check)
	case producer.StateRollbackFailed:
		return cli.Hint(err, append(cause, fmt.Sprintf("going back from set %s failed too: 'kesrotate-agent status' shows which set the node's paths lead to and whether it forges", set),
			"fix what the error names, then 'kesrotate-agent rollback'")...)
	case producer.StateNodeCannotSee:
		return cli.Hint(err, cannotSeeHint, fmt.Sprintf("set %s stays installed: %s; the node was not signalled", set, noWayBack(res)))
	case producer.StateNotTaken:
		stays := fmt.Sprintf("set %s stays installed: %s", set, noWayBack(res))
		if cause != nil {
			return cli.Hint(err, append(cause, stays)...)
		}
		return cli.Hint(err, stays, "fix what the node reports, then send it SIGHUP; 'kesrotate-agent status' shows whether it forges", "'kesrotate-agent check' tells what the agent can see of the node")
	case producer.StateConfirmedPendingKept:
		return cli.Hint(err, fmt.Sprintf("the node forges with set %s (confirmed by %s)", set, joinAnd(res.Confirmation.Sources)), pending)
	case producer.StateUnconfirmedPendingKept:
		return cli.Hint(err, fmt.Sprintf("the node was signalled (%s), not confirmed: %s", res.Signalled, res.Confirmation.Detail), pending)
	case producer.StateNotSignalledPendingKept:
		return cli.Hint(err, "the node was not signalled: send it SIGHUP (or restart it) to use the new set", pending)
	case producer.StateNotSignalled:
		return cli.Hint(fmt.Errorf("set %s is installed but the node was not reloaded: %w", set, err),
			"send cardano-node SIGHUP yourself, or fix how the node is signalled: 'kesrotate-agent config --pid-file F | --systemd-unit U | --match-process'")
	}
	return cli.Hint(fmt.Errorf("set %s is installed, but: %w", set, err), "'kesrotate-agent status' shows whether the node forges with it")
}
