package agent

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/kesrotate/kesrotate/auditlog"
	"github.com/kesrotate/kesrotate/internal/cli"
	"github.com/kesrotate/kesrotate/producer"
	"github.com/kesrotate/kesrotate/transfer/qr"
)

func newCheckpointCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "checkpoint",
		Short: "Keep, list and countersign the cold side's ceremony-log checkpoints",
		Long: `Each bundle carries a checkpoint of the cold vault's ceremony log, signed by
its audit key; install keeps it in the agent folder. Kept here, off the
cold machine, they make a log whose tail was deleted or rewritten on the
stick detectable: give them to the auditor with 'checkpoint countersign'.`,
		Args: cli.Args(cobra.NoArgs),
	}
	c.AddCommand(newCheckpointListCmd(g), newCheckpointAddCmd(g), newCheckpointCountersignCmd(g))
	return c
}

func newCheckpointListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the kept checkpoints",
		Args:  cli.Args(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			a, err := g.open()
			if err != nil {
				return err
			}
			kept, err := a.KeptCheckpoints()
			if err != nil {
				return err
			}
			views := []CheckpointView{}
			for _, k := range kept {
				if k.Err != nil {
					g.env.Warn("%s: not a checkpoint: %v", k.File, k.Err)
					continue
				}
				views = append(views, CheckpointView{File: k.File, Origin: k.Origin, Size: k.Size, Root: k.RootBase64(), Signers: k.Signatures})
			}
			if g.env.JSON {
				return g.env.PrintJSON(views)
			}
			if len(views) == 0 {
				g.env.Info("no checkpoints kept yet: they arrive with bundles ('install') or with 'checkpoint add'")
			}
			for _, v := range views {
				fmt.Fprintf(g.env.Stdout, "%s  %d entries  root %s  %d signature(s)  %s\n", v.Origin, v.Size, v.Root, v.Signers, filepath.Base(v.File))
			}
			return nil
		},
	}
}

func newCheckpointAddCmd(g *globals) *cobra.Command {
	var scan []string
	c := &cobra.Command{
		Use:   "add [FILE…] [--scan IMG…]",
		Short: "Keep checkpoints given as note files or as the checkpoint QR code 'rotate --qr' wrote",
		Args:  cli.Args(cobra.ArbitraryArgs),
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 0 && len(scan) == 0 {
				return cli.Usage(errors.New("give checkpoint files or --scan IMG…"))
			}
			a, err := g.open()
			if err != nil {
				return err
			}
			var notes [][]byte
			for _, f := range args {
				b, err := cli.ReadInput(f, "FILE")
				if err != nil {
					return err
				}
				notes = append(notes, b)
			}
			for _, f := range scan {
				b, err := cli.ReadInput(f, "--scan")
				if err != nil {
					return err
				}
				text, err := qr.DecodeImage(bytes.NewReader(b))
				if err != nil {
					return cli.Hint(fmt.Errorf("%s: %w", f, err), "give a PNG or JPEG of the checkpoint QR code")
				}
				notes = append(notes, []byte(text))
			}
			kept := []string{}
			for _, msg := range notes {
				p, err := a.AddCheckpoint(msg)
				if errors.Is(err, producer.ErrCheckpoint) {
					return cli.Hint(err, "give the checkpoint note or its QR code, from the vault whose checkpoints this agent keeps")
				}
				if err != nil {
					return err
				}
				kept = append(kept, p)
			}
			if g.env.JSON {
				return g.env.PrintJSON(checkpointAddOutput{Kept: kept})
			}
			for _, p := range kept {
				fmt.Fprintf(g.env.Stdout, "kept %s\n", p)
			}
			return nil
		},
	}
	c.Flags().StringSliceVar(&scan, "scan", nil, "image(s) of checkpoint QR codes")
	return c
}

func newCheckpointCountersignCmd(g *globals) *cobra.Command {
	var out, auditKeyFile string
	c := &cobra.Command{
		Use:   "countersign --out DIR [--audit-key audit.pub]",
		Short: "Write every kept checkpoint countersigned by this producer's snapshot key",
		Long: `Write every kept checkpoint into DIR with a second signature by this
producer's snapshot key, and the verifier key as countersigner.pub. The
auditor passes DIR to 'kesrotate ceremony verify --checkpoints DIR
--countersigner DIR/countersigner.pub'. With --audit-key (the audit.pub of
an auditor package) each checkpoint's audit signature is checked first;
without it the notes are countersigned as received and the auditor's verify
checks them.`,
		Args: cli.Args(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			a, err := g.open()
			if err != nil {
				return err
			}
			var auditKey string
			if auditKeyFile != "" {
				b, err := cli.ReadInput(auditKeyFile, "--audit-key", "give the audit.pub of an auditor package")
				if err != nil {
					return err
				}
				if auditKey, err = producer.ReadAuditKey(b); err != nil {
					return cli.Hint(err, "give the audit.pub of an auditor package")
				}
			}
			res, err := a.Countersign(out, auditKey)
			if err != nil {
				return countersignHint(err, a)
			}
			if g.env.JSON {
				return g.env.PrintJSON(countersignOutput{Countersigner: res.Verifier, Files: nonNil(res.Files), AuditChecked: res.Checked})
			}
			fmt.Fprintf(g.env.Stdout, "%d checkpoint(s) countersigned by %s into %s\n", len(res.Files), res.Name, out)
			if !res.Checked {
				g.env.Warn("the audit signatures were not checked here (no --audit-key); 'kesrotate ceremony verify' checks them")
			}
			return nil
		},
	}
	c.Flags().StringVar(&out, "out", "", "folder to write the countersigned notes into")
	c.Flags().StringVar(&auditKeyFile, "audit-key", "", "the vault's audit.pub, to check each checkpoint before countersigning")
	_ = c.MarkFlagRequired("out")
	return c
}

// countersignHint picks the hints of a failed countersign from the
// library's typed error. Only a file that is not a checkpoint at all may
// be moved out of the folder; a checkpoint that does not verify under the
// audit key is evidence of a rewritten log (or the key is not the vault's)
// and is kept.
func countersignHint(err error, a *producer.Agent) error {
	folder := filepath.Join(a.Dir, producer.CheckpointsDir)
	compare := fmt.Sprintf("compare on the cold side: 'kesrotate ceremony verify --checkpoints %s' (a copy of that folder) checks them against the vault's log", folder)
	switch {
	case errors.Is(err, producer.ErrNoCheckpoints):
		return cli.Hint(err, "they arrive with bundles ('install') or with 'checkpoint add'")
	case errors.Is(err, producer.ErrOutExists):
		return cli.Hint(err, "countersign into an empty folder")
	case errors.Is(err, producer.ErrAuditKey):
		return cli.Hint(err, "give the audit.pub of an auditor package")
	case errors.Is(err, producer.ErrNotCheckpoint):
		return cli.Hint(err, fmt.Sprintf("that file is not a checkpoint note at all: move it out of %s, then countersign again", folder))
	case errors.Is(err, auditlog.ErrForeignLog):
		return cli.Hint(err, "the checkpoint is of another vault than --audit-key: give the audit.pub of the vault whose checkpoints this agent keeps ('kesrotate-agent checkpoint list' shows their origin)",
			"keep the checkpoint: do not delete it", compare)
	case errors.Is(err, auditlog.ErrBadSignature):
		return cli.Hint(err, "the checkpoint does not verify under --audit-key: keep it, it is evidence (a checkpoint altered after the vault signed it, or --audit-key is not the vault's audit.pub)",
			compare)
	}
	return err
}
