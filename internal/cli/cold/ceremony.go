package cold

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kesrotate/kesrotate/auditlog"
	"github.com/kesrotate/kesrotate/ceremony"
	"github.com/kesrotate/kesrotate/internal/cli"
	"github.com/kesrotate/kesrotate/internal/textsafe"
	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/opcert"
)

// auditFlags are the global --operator and --witness flags.
type auditFlags struct {
	operator  string
	witnesses []string
}

func (a *auditFlags) register(root *cobra.Command) {
	root.PersistentFlags().StringVar(&a.operator, "operator", "", "operator's name, recorded in the ceremony log")
	root.PersistentFlags().StringArrayVar(&a.witnesses, "witness", nil, "a witness's name, recorded in the ceremony log (repeatable)")
}

// auditContext is what the vault records about who acts, with which
// binary, and the clock --now set (the vault records it once, before the
// first entry the command appends).
func (g *globals) auditContext() (ceremony.Audit, error) {
	a := ceremony.Audit{Operator: g.audit.operator, Witnesses: g.audit.witnesses, Version: Version}
	if g.env.NowFlag != "" {
		now, err := g.env.Now()
		if err != nil {
			return a, err
		}
		a.Clock = &ceremony.ClockOverride{Given: now, System: time.Now().UTC()}
	}
	return a, nil
}

func newCeremonyCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "ceremony",
		Short: "Show, export, verify and seal the tamper-evident ceremony log",
		Long: `Every state-changing action on the vault appends one entry to its ceremony
log (vault/log): an RFC 6962 Merkle log whose checkpoints the vault's audit
key signs as C2SP signed notes. Each pool's cold key signs a binding of that
audit key. 'ceremony verify' needs public keys only and runs on any machine.`,
		Args: cli.Args(cobra.NoArgs),
	}
	c.AddCommand(newCeremonyShowCmd(g), newCeremonyExportCmd(g), newCeremonyVerifyCmd(g), newCeremonySealCmd(g))
	return c
}

// EntryView is one entry as 'ceremony show --json' prints it.
type EntryView struct {
	auditlog.Entry
	Summary string `json:"summary"`
}

func describe(e auditlog.Entry) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%-3d %s  %-17s", e.Seq, e.Time.Format(time.RFC3339), e.Kind)
	if e.Pool != "" {
		fmt.Fprintf(&b, "  pool %s", e.Pool[:16])
	}
	if e.Counter != nil {
		fmt.Fprintf(&b, "  counter %d", *e.Counter)
	}
	if e.KESPeriod != nil {
		fmt.Fprintf(&b, "  KES period %d", *e.KESPeriod)
	}
	if e.OnChainCounter != nil {
		fmt.Fprintf(&b, "  on-chain %d", *e.OnChainCounter)
	}
	if e.TipSlot != nil {
		fmt.Fprintf(&b, "  tip slot %d", *e.TipSlot)
	}
	if e.CertHash != "" {
		fmt.Fprintf(&b, "  cert %s", e.CertHash[:16])
	}
	if e.BundleHash != "" {
		fmt.Fprintf(&b, "  bundle %s", e.BundleHash[:16])
	}
	var keys []string
	for k := range e.Detail {
		if k == auditlog.DetailAuditKey {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "  %s=%s", k, e.Detail[k])
	}
	who := e.Operator
	if who == "" {
		who = "-"
	}
	if len(e.Witnesses) > 0 {
		who += ", witnessed by " + strings.Join(e.Witnesses, ", ")
	}
	fmt.Fprintf(&b, "  [%s]", who)
	// Entries of older versions may hold bidirectional overrides or other
	// formatting characters: show what is there.
	return textsafe.Escape(b.String())
}

func newCeremonyShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show",
		Short: "Print the vault's ceremony log readably, with its checkpoint and state",
		Args:  cli.Args(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			v, err := g.openVault()
			if err != nil {
				return err
			}
			st, err := v.LogState()
			if err != nil {
				return err
			}
			entries, entErr, ckpt, verr, gaps := st.Entries, st.Unreadable, st.Checkpoint, st.Verify, st.Gaps
			status := "ok"
			if verr != nil {
				status = verr.Error()
			}
			if g.env.JSON {
				views := []EntryView{}
				for _, e := range entries {
					views = append(views, EntryView{e, describe(e)})
				}
				out := ceremonyShowOutput{VaultID: v.Meta.ID, Entries: views, Status: status, Unlogged: gapStrings(gaps)}
				if entErr != nil {
					out.Unreadable = entErr.Error()
				}
				if ckpt != nil {
					out.Checkpoint = checkpointJSON(ckpt.Note, "")
				}
				return g.env.PrintJSON(out)
			}
			w := g.env.Stdout
			fmt.Fprintf(w, "ceremony log of vault %s (%s), %d entries\n", v.Meta.ID, v.LogDir(), len(entries))
			for _, e := range entries {
				fmt.Fprintln(w, describe(e))
			}
			if entErr != nil {
				fmt.Fprintf(w, "unreadable from here on: %v\n", entErr)
			}
			if ckpt != nil {
				fmt.Fprintf(w, "checkpoint  size %d, root %s\n", ckpt.Size, rootText(ckpt.Root[:]))
			}
			fmt.Fprintf(w, "state       %s\n", status)
			recoverable := false
			for _, gp := range gaps {
				g.env.Warn("%s", gp)
				recoverable = recoverable || gp.Recoverable()
			}
			if recoverable {
				g.env.Warn("'kesrotate ceremony seal' records what is missing, flagged recovered")
			}
			return nil
		},
	}
}

func gapStrings(gaps []ceremony.LogGap) []string {
	out := []string{}
	for _, gp := range gaps {
		out = append(out, gp.String())
	}
	return out
}

func rootText(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// checkpointJSON is the checkpoint note msg for --json, nil if there is
// none (or it does not parse).
func checkpointJSON(msg []byte, qrPath string) *checkpointView {
	c, err := auditlog.ParseCheckpoint(msg)
	if len(msg) == 0 || err != nil {
		return nil
	}
	return &checkpointView{Note: string(msg), Size: c.Size, Origin: c.Origin, Root: rootText(c.Root[:]), QR: qrPath}
}

func printCheckpoint(w io.Writer, res *ceremony.RotateResult, qrPath string) {
	c, err := auditlog.ParseCheckpoint(res.Checkpoint)
	if err != nil {
		return
	}
	in, err := auditlog.ParseCheckpoint(res.Issue.Checkpoint)
	if err != nil {
		return
	}
	fmt.Fprintf(w, "  log         signed checkpoint at %d entries; the bundle carries the one at %d\n", c.Size, in.Size)
	if qrPath != "" {
		fmt.Fprintf(w, "  checkpoint  QR code %s\n", qrPath)
	}
}

func rotateCheckpointJSON(res *ceremony.RotateResult, qrPath string) *checkpointView {
	out := checkpointJSON(res.Checkpoint, qrPath)
	if in, err := auditlog.ParseCheckpoint(res.Issue.Checkpoint); err == nil && out != nil {
		out.BundleSize = in.Size
	}
	return out
}

func newCeremonyExportCmd(g *globals) *cobra.Command {
	var out string
	c := &cobra.Command{
		Use:   "export --out DIR",
		Short: "Write the auditor package: log, checkpoints, public keys, binary hash, README",
		Args:  cli.Args(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			v, err := g.openVault()
			if err != nil {
				return err
			}
			return runCeremonyExport(g, v, out)
		},
	}
	c.Flags().StringVar(&out, "out", "", "folder to create for the package (must not exist)")
	_ = c.MarkFlagRequired("out")
	return c
}

func runCeremonyExport(g *globals, v *ceremony.Vault, out string) error {
	res, err := v.ExportAudit(out, Version)
	if errors.Is(err, auditlog.ErrExists) {
		return cli.Hint(err, "export into a folder that does not exist yet")
	}
	if err != nil {
		return err
	}
	if res.VerifyErr != nil {
		g.env.Warn("the log does not verify (%v); it was exported as it is", res.VerifyErr)
	}
	for _, gp := range res.Gaps {
		g.env.Warn("%s", gp)
	}
	if g.env.JSON {
		return g.env.PrintJSON(ceremonyExportOutput{Package: out, Entries: res.Entries, Certs: res.Certs, BinarySHA256: res.BinarySHA256})
	}
	fmt.Fprintf(g.env.Stdout, "auditor package written to %s: %s, %s issued\n", out, plural(res.Entries, "entry", "entries"), plural(res.Certs, "cert", "certs"))
	fmt.Fprintf(g.env.Stdout, "the auditor runs: kesrotate ceremony verify --log %s --cold-vkey COLD.vkey\n", out)
	return nil
}

type ceremonyVerifyOptions struct {
	log            string
	checkpoints    []string
	poolVKeys      []string
	certs          []string
	countersigners []string
	pkg            bool
}

func newCeremonyVerifyCmd(g *globals) *cobra.Command {
	o := &ceremonyVerifyOptions{}
	c := &cobra.Command{
		Use:   "verify [--log DIR] [--checkpoints DIR]… [--cold-vkey F]… [--cert F]… [--json]",
		Short: "Verify a ceremony log or auditor package with public keys only",
		Long: `Verify the vault's ceremony log, or with --log a log folder or an exported
auditor package, on any machine. Checks: package hashes (SHA256SUMS), the
entries against every signed checkpoint, checkpoints held elsewhere
(--checkpoints: *.note files or checkpoint QR images, e.g. those the
producer's agent kept or countersigned), the audit-key binding by each
--cold-vkey, the ceremony rules, and that each --cert was issued in the log.
Without --log it also compares the log with the vault's journals.

Exit codes: 0 the log verifies, 1 it does not (the error names the first bad
entry or file), 2 usage.`,
		Args: cli.Args(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error { return runCeremonyVerify(g, o) },
	}
	f := c.Flags()
	f.StringVar(&o.log, "log", "", "log folder or auditor package (default: the vault's log)")
	f.StringArrayVar(&o.checkpoints, "checkpoints", nil, "folder (or file) of checkpoints kept outside the log: *.note, *.png (repeatable)")
	f.StringArrayVar(&o.poolVKeys, "cold-vkey", nil, "a pool's cold.vkey (cardano-cli); its binding must be in the log (repeatable)")
	f.StringArrayVar(&o.certs, "cert", nil, "an op cert file seen in the field; it must be issued in the log (repeatable)")
	f.StringArrayVar(&o.countersigners, "countersigner", nil, "a countersigner key file (from 'kesrotate-agent checkpoint countersign'); every outside checkpoint must carry its signature (repeatable)")
	f.BoolVar(&o.pkg, "package", false, "require an auditor package (SHA256SUMS); implied when --log holds README.md or binary.txt")
	return c
}

// VerifyView is what 'ceremony verify --json' prints.
type VerifyView struct {
	OK       bool             `json:"ok"`
	Error    *VerifyError     `json:"error,omitempty"`
	Log      string           `json:"log"`
	Report   *auditlog.Report `json:"report"`
	Unlogged []string         `json:"unlogged,omitempty"`
}

// VerifyError names the first problem.
type VerifyError struct {
	Kind    string `json:"kind"`
	Seq     *int64 `json:"seq,omitempty"`
	File    string `json:"file,omitempty"`
	Message string `json:"message"`
}

func runCeremonyVerify(g *globals, o *ceremonyVerifyOptions) error {
	dir := o.log
	var v *ceremony.Vault
	if dir == "" {
		var err error
		if v, err = g.openVault(); err != nil {
			return moreHints(err, "or pass --log DIR to verify a log folder or an auditor package")
		}
		dir = v.LogDir()
	} else if g.vault != "" {
		// --vault with --log: the log must be that vault's.
		var err error
		if v, err = g.openVault(); err != nil {
			return err
		}
	}
	// A --log that is not a folder is a usage error; the vault's own log
	// gone is what verification reports (auditlog.ErrMissingFile).
	if fi, err := os.Stat(dir); o.log != "" && (err != nil || !fi.IsDir()) {
		return cli.Usage(fmt.Errorf("--log %s is not a folder", dir), "give the folder 'kesrotate ceremony export' wrote, or the vault's log folder")
	}
	progress := g.env.Progress("verifying the log")
	opts := auditlog.VerifyOptions{RequireManifest: o.pkg, Progress: progress.Update}
	for _, f := range o.poolVKeys {
		b, err := readInput(f, "--cold-vkey")
		if err != nil {
			return err
		}
		vk, err := keys.ParseColdVKey(b)
		if err != nil {
			return cli.Hint(fmt.Errorf("--cold-vkey %s: %w", f, err), "give the pool's cold.vkey in cardano-cli format")
		}
		opts.PoolVKeys = append(opts.PoolVKeys, ed25519.PublicKey(bytes.Clone(vk[:])))
	}
	for _, p := range o.checkpoints {
		notes, err := ceremony.ReadCheckpoints(p)
		if err != nil {
			return cli.Hint(fmt.Errorf("--checkpoints %w", err), "--checkpoints takes a folder of *.note files or checkpoint QR images")
		}
		opts.Checkpoints = append(opts.Checkpoints, notes...)
	}
	for _, f := range o.countersigners {
		b, err := readInput(f, "--countersigner")
		if err != nil {
			return err
		}
		nv, err := auditlog.ParseVerifierKey(b)
		if err != nil {
			return cli.Hint(fmt.Errorf("--countersigner %s: %w", f, err), "give the countersigner.pub that 'kesrotate-agent checkpoint countersign' wrote")
		}
		opts.Countersigners = append(opts.Countersigners, nv)
	}
	for _, f := range o.certs {
		b, err := cli.ReadInput(f, "--cert")
		if err != nil {
			return err
		}
		c, err := opcert.Parse(b)
		if err != nil {
			return cli.Hint(fmt.Errorf("--cert %s: %w", f, err), "give an op cert file (NodeOperationalCertificate)")
		}
		opts.Certs = append(opts.Certs, auditlog.SeenCert{Name: f, Cert: c})
	}

	audit, verr := ceremony.VerifyLog(dir, v, opts)
	r, gaps := audit.Report, audit.Gaps
	if g.env.JSON {
		view := VerifyView{OK: verr == nil, Log: dir, Report: r, Unlogged: gapStrings(gaps)}
		if verr != nil {
			view.Error = verifyError(verr)
		}
		if err := g.env.PrintJSON(view); err != nil {
			return err
		}
	} else {
		printCeremonyReport(g.env.Stdout, dir, r, verr)
	}
	if verr != nil {
		return ceremonyHint(verr)
	}
	return nil
}

func verifyError(err error) *VerifyError {
	ve := &VerifyError{Kind: "error", Message: err.Error()}
	var ae *auditlog.Error
	switch {
	case errors.As(err, &ae):
		ve.Kind, ve.File = ae.Kind.Error(), ae.File
		if ae.Seq != auditlog.NoSeq {
			s := ae.Seq
			ve.Seq = &s
		}
	case errors.Is(err, ceremony.ErrUnlogged):
		ve.Kind = ceremony.ErrUnlogged.Error()
	case errors.Is(err, ceremony.ErrPinMismatch):
		ve.Kind = ceremony.ErrPinMismatch.Error()
	}
	return ve
}

func ceremonyHint(err error) error {
	switch {
	case errors.Is(err, ceremony.ErrNoLog):
		return cli.Hint(err, "nothing can be verified without it: put the log back from a backup of this vault ('kesrotate backup restore-vault'), and find out who removed it")
	case errors.Is(err, auditlog.ErrUnsealed):
		return cli.Hint(err, "an append was interrupted: on the cold machine look at 'kesrotate ceremony show', then run 'kesrotate ceremony seal'")
	case errors.Is(err, auditlog.ErrTruncated):
		return cli.Hint(err, "entries signed by the audit key are missing from the end of the log: it was cut after that checkpoint was made")
	case errors.Is(err, auditlog.ErrTampered):
		return cli.Hint(err, "the log or package differs from what the audit key signed: do not trust it; ask for a fresh export and compare")
	case errors.Is(err, auditlog.ErrBinding):
		return cli.Hint(err, "the audit key is not bound by the cold key you gave: check --cold-vkey against the pool's registration")
	case errors.Is(err, auditlog.ErrForeignLog):
		return cli.Hint(err, "the log and the checkpoints or keys come from different vaults")
	case errors.Is(err, auditlog.ErrSemantics):
		return cli.Hint(err, "the entries are authentic but record a ceremony that broke the rules (e.g. --force-counter): read that entry with 'ceremony show'")
	case errors.Is(err, auditlog.ErrMissingFile):
		return cli.Hint(err, "a file of the log or package is missing: ask for a complete export")
	case errors.Is(err, auditlog.ErrBadSignature), errors.Is(err, auditlog.ErrMalformed):
		return cli.Hint(err, "a checkpoint or key file is not what the audit key signed")
	case errors.Is(err, auditlog.ErrNotInLog):
		return cli.Hint(err, "this cert was made outside the logged ceremony: find out who holds a copy of the cold key")
	case errors.Is(err, auditlog.ErrForeignCert):
		return cli.Hint(err, "give the certs of this log's pools ('ceremony verify' lists them), or the log of that pool's vault")
	case errors.Is(err, ceremony.ErrUnlogged):
		return cli.Hint(err, "an interrupted command left this unrecorded: 'kesrotate ceremony seal' records it, flagged recovered")
	case errors.Is(err, ceremony.ErrPinMismatch):
		return cli.Hint(err, "someone with this stick put that file there: do not rotate to that producer; compare fingerprints with the producer and pin the real one under a new name")
	case errors.Is(err, auditlog.ErrForged):
		return cli.Hint(err, "someone with the audit key, but not the cold key, wrote that entry: do not trust it, and find out who had the vault stick")
	}
	return err
}

func printCeremonyReport(w io.Writer, dir string, r *auditlog.Report, verr error) {
	fmt.Fprintf(w, "ceremony log %s\n", dir)
	if r == nil || r.VaultID == "" && r.TreeSize == 0 && len(r.Checkpoints) == 0 {
		// Nothing was established: no empty fields to read as findings.
		fmt.Fprintf(w, "FAILED\n")
		return
	}
	fmt.Fprintf(w, "  vault        %s\n", r.VaultID)
	fmt.Fprintf(w, "  audit key    %s\n", r.AuditKey)
	fmt.Fprintf(w, "  entries      %d\n", r.TreeSize)
	if r.Manifest {
		fmt.Fprintf(w, "  package      every file matches SHA256SUMS\n")
	}
	local, outside := 0, 0
	for _, c := range r.Checkpoints {
		if c.Outside {
			outside++
			fmt.Fprintf(w, "  held outside %s: %d entries, signed by %s\n", c.File, c.Size, strings.Join(c.Signers, ", "))
		} else {
			local++
		}
	}
	fmt.Fprintf(w, "  checkpoints  %d checked in the log, %d held outside\n", local, outside)
	hw := map[string]bool{}
	for _, p := range r.Pools {
		checked := "cold vkey NOT given (--cold-vkey)"
		if p.Checked {
			checked = "bound by the given cold vkey"
		}
		if p.HardwareWallet {
			hw[p.Pool] = true
			if p.Checked {
				checked = "the given cold vkey"
			}
			fmt.Fprintf(w, "  pool         %s  cold key on a hardware wallet (entry %d), %s; its certs are the evidence\n", p.Pool, p.BindingSeq, checked)
			continue
		}
		fmt.Fprintf(w, "  pool         %s  binding at entry %d, %s\n", p.Pool, p.BindingSeq, checked)
	}
	if r.Format != "" {
		fmt.Fprintf(w, "  log format   %s\n", r.Format)
	}
	for _, p := range r.Producers {
		signed := "cold-signed pin"
		switch {
		case !p.Signed && hw[p.Pool]:
			signed = "pin the audit key vouches for (the cold key is on a hardware wallet)"
		case !p.Signed:
			signed = "pin only the audit key vouches for (older version)"
		}
		if p.Removed > 0 {
			signed += fmt.Sprintf("; removed at entry %d", p.Removed)
		}
		fmt.Fprintf(w, "  producer     %-16s %s  entry %d, %s\n", textsafe.Escape(p.Producer), p.Fingerprint, p.Seq, signed)
	}
	fmt.Fprintf(w, "  certs issued %d\n", len(r.Certs))
	unsigned := 0
	for _, c := range r.Certs {
		mark := ""
		if !c.ColdSigned {
			mark, unsigned = "  (no cold-signed cert in the entry)", unsigned+1
		}
		if c.HardwareWallet {
			mark += "  signed on the hardware wallet"
		}
		if len(c.Overrides) > 0 {
			mark += "  overrides: " + strings.Join(c.Overrides, " ")
		}
		fmt.Fprintf(w, "    counter %-3d KES period %-5d %s  cert %s  entry %d  pool %s%s\n", c.Counter, c.KESPeriod, c.Time.Format(time.RFC3339), c.CertHash, c.Seq, c.Pool[:16], mark)
	}
	if unsigned > 0 {
		fmt.Fprintf(w, "  note         %d cert entries were written before the log carried the certs: only the audit key vouches for them\n", unsigned)
	}
	for _, q := range r.Prepared {
		fmt.Fprintf(w, "  prepared     counter %-3d KES period %-5d entry %d  pool %s: waiting for the hardware wallet's signature, or an abandon\n", q.Counter, q.KESPeriod, q.Seq, q.Pool[:16])
	}
	if verr != nil {
		fmt.Fprintf(w, "FAILED\n")
		return
	}
	fmt.Fprintf(w, "OK\n")
	// What this OK does not cover, so that it is not read as more.
	for _, p := range r.Pools {
		if !p.Checked {
			fmt.Fprintf(w, "not checked: the pools' cold vkeys (give --cold-vkey, from a source you trust): the bindings were taken from the log itself\n")
			break
		}
	}
	if outside == 0 {
		fmt.Fprintf(w, "not checked: checkpoints held outside the vault (give --checkpoints): a log cut at its end, checkpoints and all, looks complete\n")
	}
}

func newCeremonySealCmd(g *globals) *cobra.Command {
	var yes bool
	c := &cobra.Command{
		Use:   "seal [--yes]",
		Short: "Checkpoint entries an interrupted command left unsigned, and record what it left unlogged",
		Long: `After a crash or power loss in the middle of a command, the log may hold an
entry without a checkpoint (every later command refuses until it is sealed),
or the vault may hold a cert, pool or producer the log lacks. 'ceremony seal'
shows the unsigned entries; with --yes it signs them and records what is
missing, each flagged "recovered".`,
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
			w := g.env.Stdout
			if g.env.JSON {
				w = g.env.Stderr // stdout holds the JSON document only
			}
			res, err := v.Seal(now, yes)
			if res != nil {
				for _, e := range res.Unsigned {
					fmt.Fprintf(w, "unsigned  %s\n", describe(e))
				}
				for _, gp := range res.Unrecordable {
					g.env.Warn("%s; seal does not record it", gp)
				}
				if !yes {
					for _, gp := range res.Unlogged {
						fmt.Fprintf(w, "unlogged  %s\n", gp)
					}
				}
				for _, e := range res.Recorded {
					fmt.Fprintf(w, "recorded  %s\n", describe(e))
				}
			}
			switch {
			case errors.Is(err, auditlog.ErrUnsealed) && !yes:
				return cli.Hint(err, "look at the entries above; 'kesrotate ceremony seal --yes' signs them")
			case errors.Is(err, ceremony.ErrUnlogged) && !yes:
				return cli.Hint(err, "'kesrotate ceremony seal --yes' records them, flagged recovered")
			case err != nil:
				return ceremonyHint(err)
			}
			sealed, rec := res.Sealed, res.Recorded
			if g.env.JSON {
				return g.env.PrintJSON(ceremonySealOutput{Sealed: sealed, Recovered: len(rec)})
			}
			fmt.Fprintf(w, "log sealed: %d entries signed, %d recovered\n", sealed, len(rec))
			return nil
		},
	}
	c.Flags().BoolVar(&yes, "yes", false, "sign the unsigned entries and record what is missing")
	return c
}

// plural is "1 cert", "2 certs".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// moreHints adds hints to err, keeping the hints and exit code a
// *cli.Error already carries (a usage error stays one).
func moreHints(err error, hints ...string) error {
	var ce *cli.Error
	if errors.As(err, &ce) {
		return &cli.Error{Err: ce.Err, Hints: append(slices.Clone(ce.Hints), hints...), Code: ce.Code}
	}
	return cli.Hint(err, hints...)
}
