package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kesrotate/kesrotate/internal/cli"
	"github.com/kesrotate/kesrotate/producer"
	"github.com/kesrotate/kesrotate/transfer"
)

func newDemoteCmd(g *globals) *cobra.Command {
	var out, qrOut string
	var confirmTimeout time.Duration
	var chain chainFlags
	c := &cobra.Command{
		Use:   "demote --out RECEIPT [--qr F.png]",
		Short: "Stop this producer forging, confirm it, and sign a demotion receipt",
		Long: `Take forging away from this (primary) producer: remove the node's three
credential paths (the set stays ready, staged), send the node SIGHUP — a
missing credential file makes cardano-node disable forging — and confirm
from its metrics (forging_enabled 0) or its log that it no longer forges.
This producer becomes a standby, and a demotion receipt signed by its key
is written: the standby that takes over needs it ('promote --receipt').

The receipt's files (--out, --qr) are created before anything changes: a
file that exists already, or a folder that cannot take it, stops the
demotion before it starts. Without a confirmation there is no receipt
(and the files are removed again). The demoted node keeps running
without forging; note that cardano-node will not start again without its
credential files: restart it as a relay, or promote it.`,
		Args: cli.Args(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			if out == "" && qrOut == "" {
				return cli.Usage(errors.New("demote needs --out and/or --qr for the receipt"))
			}
			a, err := g.open()
			if err != nil {
				return err
			}
			now, err := g.env.Now()
			if err != nil {
				return err
			}
			v, err := chain.chain(g, a, producer.ForDemote)
			if err != nil {
				return err
			}
			res, err := a.Demote(context.Background(), producer.DemoteOptions{Now: now, TipSlot: v.TipSlot, ConfirmTimeout: confirmTimeout,
				ReceiptFile: out, ReceiptQR: qrOut})
			switch {
			case errors.Is(err, producer.ErrReceiptOutput) && res == nil:
				return cli.Hint(err, "choose files that do not exist yet, in a folder that does", "nothing was changed")
			case errors.Is(err, producer.ErrReceiptOutput):
				return cli.Hint(err, fmt.Sprintf("%s is a standby now, but its receipt is lost: promote the other producer with --peer-metrics URL once this node shows forging_enabled 0", a.Config.Name))
			case errors.Is(err, producer.ErrRole):
				return cli.Hint(err, "'kesrotate-agent status' shows the role", "nothing was changed")
			case errors.Is(err, producer.ErrKESAgentMode):
				return cli.Hint(err, "stop the node (or 'kes-agent-control drop-key', after which kes-agent takes any counter) before another producer forges", "nothing was changed")
			case errors.Is(err, producer.ErrConfig):
				return cli.Hint(err, "set how to signal the node: 'kesrotate-agent config --pid-file F | --systemd-unit U | --match-process'", "nothing was changed")
			case errors.Is(err, producer.ErrStillForging):
				return cli.Hint(err, "this producer is now a standby and its credential paths are gone, but the node may still forge: stop it (systemctl stop cardano-node) before promoting another producer",
					"no receipt was written; the other producer can be promoted with --peer-metrics once this node's metrics show forging_enabled 0")
			case errors.Is(err, producer.ErrUnmanaged), errors.Is(err, producer.ErrLocked):
				return cli.Hint(err, "nothing was changed")
			case err != nil:
				return err
			}
			if g.env.JSON {
				return g.env.PrintJSON(demoteOutput{Role: res.Role, Staged: res.Staged, Signalled: res.Signalled,
					ConfirmedBy: nonNil(res.Confirmation.Sources), Receipt: out, ReceiptQR: qrOut})
			}
			w := g.env.Stdout
			fmt.Fprintf(w, "%s no longer forges (confirmed by %s); it is a standby now\n", a.Config.Name, joinAnd(res.Confirmation.Sources))
			if res.Held != nil {
				fmt.Fprintf(w, "  cert #%d from period %d stays staged as set %s\n", res.Held.Counter, res.Held.KESPeriod, res.Staged)
			}
			fmt.Fprintf(w, "  demotion receipt %s\n", strings.TrimSpace(out+" "+qrOut))
			fmt.Fprintf(w, "next, on the producer that takes over: 'kesrotate-agent promote --receipt FILE'\n")
			return nil
		},
	}
	c.Flags().StringVar(&out, "out", "", "file to write the signed demotion receipt to")
	c.Flags().StringVar(&qrOut, "qr", "", "also write it as one QR code PNG")
	cli.DurationVar(c.Flags(), &confirmTimeout, "confirm-timeout", 60*time.Second, "how long to wait for the node to stop forging")
	chain.add(c.Flags())
	return c
}

func newPromoteCmd(g *globals) *cobra.Command {
	var receipt, peerMetrics string
	var scan []string
	var primaryGone bool
	var maxAge, confirmTimeout, signerTimeout time.Duration
	var chain chainFlags
	c := &cobra.Command{
		Use:   "promote --receipt F | --scan IMG | --peer-metrics URL | --primary-gone",
		Short: "Make this standby forge with its staged set, with proof the other producer stopped",
		Long: `Make this standby the primary: its staged set goes to the node's paths,
the node is signalled and must confirm that it forges with it. Only with
proof that the other producer does not forge:

  --receipt F        its demotion receipt ('kesrotate-agent demote'), signed
                     by a producer pinned with 'peer add', at most
                     --max-receipt-age old, and never used before
  --peer-metrics URL its metrics endpoint showing forging_enabled 0
  --primary-gone     your word that it is gone and cannot come back
                     forging (powered off, cut off): logged, with the risk

A staged cert older than the other producer's is refused. If the node does
not confirm forging, the credential paths are removed again and this
producer stays a standby. With a Mithril signer the signer is restarted
once the node forges, and must register within --signer-timeout; if it
does not, promote fails (exit 1) and says why, and the promotion stands.`,
		Args: cli.Args(cobra.NoArgs),
		RunE: func(c *cobra.Command, args []string) error {
			a, err := g.open()
			if err != nil {
				return err
			}
			now, err := g.env.Now()
			if err != nil {
				return err
			}
			n := 0
			for _, b := range []bool{receipt != "" || len(scan) > 0, peerMetrics != "", primaryGone} {
				if b {
					n++
				}
			}
			if n != 1 {
				return cli.Usage(errors.New("promote needs exactly one proof that the other producer has stopped"),
					"--receipt FILE (or --scan IMG) from its 'demote', --peer-metrics URL, or --primary-gone")
			}
			o := producer.PromoteOptions{PeerMetrics: peerMetrics, PrimaryGone: primaryGone, MaxReceiptAge: maxAge, ConfirmTimeout: confirmTimeout}
			switch {
			case receipt != "":
				if o.Receipt, err = cli.ReadInput(receipt, "--receipt", "give the file 'kesrotate-agent demote --out' wrote"); err != nil {
					return err
				}
			case len(scan) > 0:
				data, warnings, err := transfer.Scan(scan, transfer.URReceipt)
				for _, w := range warnings {
					g.env.Warn("%s", w)
				}
				if err != nil {
					return cli.Hint(err, "scan the QR code 'kesrotate-agent demote --qr' wrote")
				}
				o.Receipt = data
			}
			if primaryGone {
				g.env.Warn("--primary-gone: you assert that the other producer is down and cannot come back forging.")
				g.env.Warn("if it does, both forge for the pool: forks and lost blocks. Keep it powered off or off the network until it is demoted.")
			}
			v, err := chain.chain(g, a, producer.ForPromote)
			if err != nil {
				return err
			}
			o.ActivateOptions = producer.ActivateOptions{TipSlot: v.TipSlot, Now: now}
			if v.OnChainKnown {
				o.OnChain = &v.OnChain
			}
			o.Signer = producer.SignerOptions{Now: now, Timeout: signerTimeout}
			res, err := a.Promote(context.Background(), o)
			if err != nil && (res == nil || res.SignerErr == nil) {
				return promoteHint(err, res)
			}
			// Promoted; err, if any, is the Mithril signer's.
			if g.env.JSON {
				if jerr := g.env.PrintJSON(promoteOutput{Role: res.Role, Set: res.Set, Proof: res.Proof,
					Signalled: res.Signalled, ConfirmedBy: nonNil(res.Confirmation.Sources), MithrilSigner: res.Signer}); jerr != nil {
					return jerr
				}
			} else {
				w := g.env.Stdout
				fmt.Fprintf(w, "%s is the primary now: the node forges with set %s (confirmed by %s)\n", a.Config.Name, res.Set, joinAnd(res.Confirmation.Sources))
				fmt.Fprintf(w, "  proof the other producer stopped: %s\n", res.Proof)
				if res.Signer != nil {
					printSigner(w, res.Signer)
				}
				fmt.Fprintf(w, "next, on each relay: 'kesrotate-agent relay point-to %s --topology FILE --address HOST:PORT …'\n", a.Config.Name)
			}
			if err != nil {
				return signerHint(err, a)
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&receipt, "receipt", "", "the other producer's demotion receipt")
	f.StringSliceVar(&scan, "scan", nil, "the receipt's QR code image")
	f.StringVar(&peerMetrics, "peer-metrics", "", "the other producer's metrics URL (it must show forging_enabled 0)")
	f.BoolVar(&primaryGone, "primary-gone", false, "the other producer is gone and cannot come back forging (your word; logged)")
	cli.DurationVar(f, &maxAge, "max-receipt-age", 24*time.Hour, "how old a demotion receipt may be")
	cli.DurationVar(f, &confirmTimeout, "confirm-timeout", 60*time.Second, "how long to wait for the node to forge")
	signerTimeoutFlag(f, &signerTimeout)
	chain.add(f)
	return c
}

func promoteHint(err error, res *producer.PromoteResult) error {
	nothing := "nothing was changed"
	switch {
	case errors.Is(err, producer.ErrNoProof):
		return cli.Hint(err, "give --receipt FILE (from 'kesrotate-agent demote' on the other producer), --peer-metrics URL (its node shows it does not forge), or --primary-gone if that machine is gone for good", nothing)
	case errors.Is(err, producer.ErrOtherForges):
		return cli.Hint(err, "demote the other producer first ('kesrotate-agent demote' there), or stop its node", nothing)
	case errors.Is(err, producer.ErrPeer):
		return cli.Hint(err, "pin the other producer once: 'kesrotate-agent peer add NAME --enrollment FILE --fingerprint XXXX-…' (its 'enrollment' output)", nothing)
	case errors.Is(err, producer.ErrReceipt), errors.Is(err, transfer.ErrSignature), errors.Is(err, transfer.ErrFormat):
		return cli.Hint(err, "demote the other producer again for a fresh receipt, or give --peer-metrics", nothing)
	case errors.Is(err, producer.ErrOlderCert):
		return cli.Hint(err, "install the newest bundle on this standby first (one rotation seals it to every producer)", nothing)
	case errors.Is(err, producer.ErrRole), errors.Is(err, producer.ErrNotStaged):
		return cli.Hint(err, "'kesrotate-agent status' shows the role and the staged set", nothing)
	}
	switch res.State() {
	case producer.PromoteForgingNotRecorded:
		return cli.Hint(err, fmt.Sprintf("the node IS forging with set %s, but this producer is still recorded as a standby: do not promote another producer", res.Set),
			"fix what the error names, then run 'kesrotate-agent promote' again to record it (the same --receipt if the error says it was not recorded as used; else --peer-metrics URL of the other producer, which still does not forge)")
	case producer.PromoteRestoredOff:
		if res.Signalled == "" {
			return cli.Hint(err, "the credential paths were removed again and the node was not signalled: it does not forge with the staged set; fix what the error names, then promote again")
		}
		return cli.Hint(err, fmt.Sprintf("the credential paths were removed again and the node shows forging is off (confirmed by %s); fix what it reported, then promote again", joinAnd(res.Off.Sources)))
	case producer.PromoteRestoredUnconfirmed:
		return cli.Hint(err, "the credential paths were removed again, but the node does not show that forging is off: it may still forge with the staged set",
			"check its metrics (forging_enabled) or log, or restart it; until then do not promote another producer")
	case producer.PromoteRestoreFailed:
		return cli.Hint(err, "the node was signalled with the staged set and removing the credential paths again failed: it may forge",
			"'kesrotate-agent status' shows what the node's paths hold; remove them or stop the node before another producer forges")
	case producer.PromoteUndoFailed:
		return undoFailedHint(err)
	}
	return installHint(err)
}

func newPeerCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "peer",
		Short: "Pin the pool's other producers, whose demotion receipts promote checks",
	}
	var enrollment, fingerprint string
	var yes bool
	add := &cobra.Command{
		Use:   "add NAME --enrollment F --fingerprint XXXX-XXXX-XXXX-XXXX | --yes",
		Short: "Pin another producer of this pool from its enrollment after comparing fingerprints",
		Long: `Pin another producer of this pool, whose demotion receipts 'promote'
then accepts. Give the fingerprint its 'kesrotate-agent enrollment' showed
with --fingerprint: the enrollment must match it. Without --fingerprint
nothing is pinned, unless --yes says to pin without comparing (when you
compared the fingerprints some other way).`,
		Args: cli.Args(cobra.ExactArgs(1)),
		RunE: func(c *cobra.Command, args []string) error {
			a, err := g.open()
			if err != nil {
				return err
			}
			data, err := cli.ReadInput(enrollment, "--enrollment", "give the file the other producer's 'kesrotate-agent enrollment --out' wrote")
			if err != nil {
				return err
			}
			p, err := a.AddPeer(args[0], data, producer.PeerOptions{Fingerprint: fingerprint, Unchecked: yes})
			switch {
			case errors.Is(err, producer.ErrFingerprintNeeded):
				return cli.Usage(err, "give --fingerprint XXXX-XXXX-XXXX-XXXX as 'kesrotate-agent enrollment' showed it on the other producer (or --yes to pin without comparing)", "nothing was pinned")
			case err != nil:
				return cli.Hint(err, "nothing was pinned")
			}
			if g.env.JSON {
				return g.env.PrintJSON(peerAddOutput{peerView: peerView{Name: p.Name, Fingerprint: p.Fingerprint}, Compared: p.Compared})
			}
			fmt.Fprintf(g.env.Stdout, "peer %s pinned\n  fingerprint  %s\n", p.Name, p.Fingerprint)
			if !p.Compared {
				g.env.Warn("pinned without comparing fingerprints (--yes): if %s is not what 'kesrotate-agent enrollment' showed on %s, pin it again with --fingerprint", p.Fingerprint, p.Name)
			}
			return nil
		},
	}
	add.Flags().StringVar(&enrollment, "enrollment", "", "the other producer's enrollment file")
	add.Flags().StringVar(&fingerprint, "fingerprint", "", "the fingerprint the other producer showed; refuse if it differs")
	add.Flags().BoolVar(&yes, "yes", false, "pin without comparing fingerprints (when you compared them some other way)")
	add.MarkFlagsMutuallyExclusive("fingerprint", "yes")
	list := &cobra.Command{
		Use:   "list",
		Short: "List the pinned producers",
		Args:  cli.Args(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			a, err := g.open()
			if err != nil {
				return err
			}
			peers, err := a.Peers()
			if err != nil {
				return err
			}
			if g.env.JSON {
				out := []peerView{}
				for _, p := range peers {
					out = append(out, peerView{Name: p.Name, Fingerprint: p.Fingerprint})
				}
				return g.env.PrintJSON(out)
			}
			for _, p := range peers {
				fmt.Fprintf(g.env.Stdout, "%-12s %s\n", p.Name, p.Fingerprint)
			}
			return nil
		},
	}
	c.AddCommand(add, list)
	return c
}
