package agent

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"

	"github.com/kesrotate/kesrotate/ceremony/auditlog"
	"github.com/kesrotate/kesrotate/internal/cli"
	"github.com/kesrotate/kesrotate/internal/safefile"
	"github.com/kesrotate/kesrotate/transfer"
	"github.com/kesrotate/kesrotate/transfer/qr"
)

// CountersignerKeyFile is the verifier key 'checkpoint countersign' writes
// beside the notes, for 'kesrotate ceremony verify --countersigner'.
const CountersignerKeyFile = "countersigner.pub"

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

// CheckpointView is one kept checkpoint.
type CheckpointView struct {
	File    string `json:"file"`
	Origin  string `json:"origin"`
	Size    int64  `json:"size"`
	Root    string `json:"root"`
	Signers int    `json:"signatures"`
}

func keptCheckpoints(g *globals) ([]string, [][]byte, error) {
	a, err := g.open()
	if err != nil {
		return nil, nil, err
	}
	files, err := a.Checkpoints()
	if err != nil {
		return nil, nil, err
	}
	var notes [][]byte
	for _, f := range files {
		b, err := cli.ReadInput(f, "checkpoint")
		if err != nil {
			return nil, nil, err
		}
		notes = append(notes, b)
	}
	return files, notes, nil
}

func newCheckpointListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the kept checkpoints",
		Args:  cli.Args(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			files, notes, err := keptCheckpoints(g)
			if err != nil {
				return err
			}
			views := []CheckpointView{}
			for i, msg := range notes {
				cp, err := auditlog.ParseCheckpoint(msg)
				if err != nil {
					g.env.Warn("%s: not a checkpoint: %v", files[i], err)
					continue
				}
				views = append(views, CheckpointView{File: files[i], Origin: cp.Origin, Size: cp.Size,
					Root: rootB64(cp), Signers: strings.Count(string(msg), "\n— ")})
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

func rootB64(c auditlog.Checkpoint) string {
	lines := strings.SplitN(string(c.Note), "\n", 4)
	if len(lines) < 3 {
		return ""
	}
	return lines[2]
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
			var kept []string
			for _, msg := range notes {
				if _, err := auditlog.ParseCheckpoint(msg); err != nil {
					return cli.Hint(fmt.Errorf("not a ceremony-log checkpoint: %w", err), "give the checkpoint note or its QR code")
				}
				p, err := a.KeepCheckpoint(msg)
				if err != nil {
					return err
				}
				kept = append(kept, p)
			}
			if g.env.JSON {
				return g.env.PrintJSON(map[string]any{"kept": kept})
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
				auditKey = strings.TrimSuffix(string(b), "\n")
			}
			e, _, err := a.Enrollment()
			if err != nil {
				return err
			}
			sk, err := a.SignKey()
			if err != nil {
				return err
			}
			defer clear(sk)
			name := "kesrotate-agent/" + e.Fingerprint()
			signer, err := auditlog.NewEd25519Signer(name, sk)
			if err != nil {
				return err
			}
			vkey, err := auditlog.NewEd25519VerifierKey(name, sk.Public().(ed25519.PublicKey))
			if err != nil {
				return err
			}
			files, notes, err := keptCheckpoints(g)
			if err != nil {
				return err
			}
			if len(notes) == 0 {
				return cli.Hint(errors.New("no checkpoints kept yet"), "they arrive with bundles ('install') or with 'checkpoint add'")
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			if err := writeSame(filepath.Join(out, CountersignerKeyFile), []byte(vkey+"\n")); err != nil {
				return err
			}
			var written []string
			for i, msg := range notes {
				var signed []byte
				if auditKey != "" {
					signed, err = auditlog.Countersign(msg, auditKey, signer)
				} else {
					signed, err = countersignUnverified(msg, signer)
				}
				if err != nil {
					return cli.Hint(fmt.Errorf("%s: %w", filepath.Base(files[i]), err), "remove that file from the agent's checkpoints folder if it is not a checkpoint")
				}
				cp, _ := auditlog.ParseCheckpoint(signed)
				p := filepath.Join(out, fmt.Sprintf("%08d-%s.note", cp.Size, transfer.FileHash(msg)[:16]))
				if err := writeSame(p, signed); err != nil {
					return err
				}
				written = append(written, p)
			}
			if g.env.JSON {
				return g.env.PrintJSON(map[string]any{"countersigner": vkey, "files": written})
			}
			fmt.Fprintf(g.env.Stdout, "%d checkpoint(s) countersigned by %s into %s\n", len(written), name, out)
			if auditKey == "" {
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

// countersignUnverified adds signer's signature to a checkpoint note whose
// existing signatures this agent cannot check (it does not know the audit
// key); they are kept as they are.
func countersignUnverified(msg []byte, signer note.Signer) ([]byte, error) {
	if _, err := auditlog.ParseCheckpoint(msg); err != nil {
		return nil, err
	}
	_, err := note.Open(msg, note.VerifierList())
	var unv *note.UnverifiedNoteError
	if !errors.As(err, &unv) {
		return nil, fmt.Errorf("countersign: %w", err)
	}
	return note.Sign(unv.Note, signer)
}

// writeSame creates path with data, or accepts it if it already holds data.
func writeSame(path string, data []byte) error {
	err := safefile.Create(path, data, 0o644)
	if errors.Is(err, fs.ErrExist) {
		if old, rerr := os.ReadFile(path); rerr == nil && bytes.Equal(old, data) {
			return nil
		}
		return cli.Hint(fmt.Errorf("%s exists with other content", path), "countersign into an empty folder")
	}
	return err
}
