package cold

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kesrotate/kesrotate/ceremony"
	"github.com/kesrotate/kesrotate/internal/cli"
	"github.com/kesrotate/kesrotate/opcert"
	"github.com/kesrotate/kesrotate/transfer"
)

type rotateOptions struct {
	producers    []string
	snapshot     string
	scan         []string
	withVRF      bool
	vrfChosen    bool // --with-vrf was given, true or false
	bundleVer    int
	qrDir        string
	maxAge       time.Duration
	allowStale   bool
	kesPeriod    string
	onchain      string
	out          string
	forceCounter string
	ignoreClock  bool
	// A pool whose cold key is on a hardware wallet (hw.go).
	signedCert string
	finish     bool
	abandon    bool
}

func newRotateCmd(g *globals) *cobra.Command {
	o := &rotateOptions{}
	c := &cobra.Command{
		Use:     "rotate POOL --producer NAME --snapshot F|--scan IMG… [--out DIR] [--qr DIR]",
		Aliases: []string{"issue-op-cert"},
		Short:   "Issue the next op cert with a fresh KES key",
		Long: `Issue the next operational certificate for POOL with a fresh KES key.

The counter is chosen by the Praos rule from the on-chain counter and the
vault's journal: on-chain + 1 (the same number again when the last cert
never minted), 0 for a pool that never minted. kesrotate refuses when the
chain is ahead of every cert the vault issued or has gone backwards.

With --producer, the counter and KES period come from the producer's signed
snapshot (checked against this machine's clock), and the cert, the new KES
key (unless the producer made its own) and the VRF key, the first time a
producer gets a bundle from this vault (or always with --with-vrf; never
with --with-vrf=false), leave as one bundle encrypted to the pinned
producer (*.age in --out, default the vault's out/ folder) and, with --qr,
as QR frames.

Repeat --producer to seal the same bundle to a primary and its standbys
(--producer bp1 --producer bp2): the first one's snapshot is used; each
agent checks the bundle the same way, and a standby only stages it.

Without a producer (--kes-period P --onchain-counter N|none --out DIR) the
cert and plaintext KES keys are written into --out in cardano-cli format:
hot keys leaving the vault unencrypted.

A pool whose cold key is on a hardware wallet ('pool import-hw') is
rotated in two steps around the device's signature. With --producer and
--snapshot, rotate does everything up to the signature (the same checks,
counter, KES period and a fresh KES key, kept encrypted in the vault) and
writes into a new folder in --out (which must not be inside the vault)
the files 'cardano-hw-cli node issue-op-cert' reads, prints that command
and what the device will show. Then --signed-cert FILE (or --finish, for
the cert where the printed command writes it) checks the cert the device
signed against everything prepared (pool, counter, KES period, KES key,
signature) and only then journals it and seals the bundle; anything else
is refused and nothing is sealed. --abandon gives the preparation up and
destroys the KES key the vault made for it; a key the producer made
(KES-on-producer mode) stays there until 'kesrotate-agent kes new
--replace' discards it, and abandon says so.`,
		Args: cli.Args(func(c *cobra.Command, args []string) error {
			if len(o.scan) > 0 {
				return cobra.MinimumNArgs(1)(c, args) // POOL, then more images
			}
			return cobra.ExactArgs(1)(c, args)
		}),
		RunE: func(c *cobra.Command, args []string) error {
			o.scan = append(o.scan, args[1:]...)
			o.vrfChosen = c.Flags().Changed("with-vrf")
			if err := checkBundleVersion(o.bundleVer); err != nil {
				return err
			}
			if o.signedCert != "" || o.finish || o.abandon {
				return runRotateHW(g, o, c, args[0])
			}
			if len(o.producers) > 0 {
				return runRotateProducer(g, o, args[0])
			}
			return runRotatePlain(g, o, args[0])
		},
	}
	f := c.Flags()
	f.StringArrayVar(&o.producers, "producer", nil, "pinned producer to seal the bundle to; repeat it for the primary (first: its snapshot) and each standby")
	f.StringVar(&o.snapshot, "snapshot", "", "the producer's signed snapshot file")
	f.StringSliceVar(&o.scan, "scan", nil, "image(s) of the snapshot QR code, more may follow as arguments; \"-\" reads an MJPEG stream on stdin")
	f.BoolVar(&o.withVRF, "with-vrf", false, "add the VRF signing key (default: only for a producer that never received it)")
	f.StringVar(&o.qrDir, "qr", "", "also write the bundle as QR frames (PNG) into this folder")
	f.IntVar(&o.bundleVer, "bundle-version", transfer.BundleVersion, fmt.Sprintf("%d, or %d for agents older than bundle version %d (larger bundles, more QR frames)", transfer.BundleVersion, transfer.BundleVersionLegacy, transfer.BundleVersion))
	cli.DurationVar(f, &o.maxAge, "max-age", transfer.DefaultMaxAge, "refuse a snapshot whose tip is older than this (another value is logged)")
	f.BoolVar(&o.allowStale, "allow-stale", false, "accept a snapshot older than --max-age (journaled)")
	f.StringVar(&o.kesPeriod, "kes-period", "", "KES period the cert starts in (from the producer's chain tip)")
	f.StringVar(&o.onchain, "onchain-counter", "", `the pool's op-cert counter on chain, or "none" if it never minted`)
	f.StringVar(&o.out, "out", "", "folder for node.cert, kes.skey and kes.vkey")
	f.StringVar(&o.forceCounter, "force-counter", "", "issue with this counter regardless of the rules (journaled; dangerous)")
	f.BoolVar(&o.ignoreClock, "ignore-clock", false, "accept a KES period up to 4 periods away from this machine's clock (logged); for a wrong clock give --now")
	f.StringVar(&o.signedCert, "signed-cert", "", "hardware wallet: finish the prepared rotation with the cert the device signed (cardano-hw-cli's --out-file)")
	f.BoolVar(&o.finish, "finish", false, "hardware wallet: finish with the cert where the printed cardano-hw-cli command wrote it")
	f.BoolVar(&o.abandon, "abandon", false, "hardware wallet: give the prepared rotation up and destroy the KES key the vault made for it (logged)")
	c.MarkFlagsMutuallyExclusive("signed-cert", "finish", "abandon")
	c.MarkFlagsMutuallyExclusive("snapshot", "scan")
	c.MarkFlagsMutuallyExclusive("producer", "kes-period")
	c.MarkFlagsMutuallyExclusive("producer", "onchain-counter")
	return c
}

func parseForce(s string) (*uint64, error) {
	if s == "" {
		return nil, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return nil, cli.Usage(fmt.Errorf("--force-counter %q is not a number", s))
	}
	return &n, nil
}

func runRotateProducer(g *globals, o *rotateOptions, name string) error {
	force, err := parseForce(o.forceCounter)
	if err != nil {
		return err
	}
	v, err := g.openVault()
	if err != nil {
		return err
	}
	p, err := g.openPool(v, name)
	if err != nil {
		return err
	}
	now, err := g.env.Now()
	if err != nil {
		return err
	}
	snap, err := readTransfer(g, o.snapshot, "--snapshot", o.scan, transfer.URSnapshot)
	if err != nil {
		return err
	}
	req := ceremony.RotateRequest{
		Pool: name, Producer: o.producers[0], Also: o.producers[1:], Snapshot: snap, WithVRF: o.withVRF, AutoVRF: !o.vrfChosen, BundleVersion: o.bundleVer, ForceCounter: force, OutDir: o.out, QRDir: o.qrDir, Now: now,
		Policy: transfer.SnapshotPolicy{MaxAge: o.maxAge, IgnoreClock: o.ignoreClock, AllowStale: o.allowStale},
	}
	if p.Hardware() {
		return runRotatePrepare(g, o, v, name, req)
	}
	res, err := v.Rotate(req)
	if err != nil && res == nil {
		return rotateError(err)
	}
	defer res.Issue.KES.Wipe()
	if err != nil {
		return qrError(err, true)
	}
	return printRotated(g, v, name, o, res, nil)
}

// qrError gives the hint of a QR folder that could not take a rotation's
// frames: refused before the issue, or failed after the bundle was out.
func qrError(err error, issued bool) error {
	if issued {
		return cli.Hint(fmt.Errorf("--qr: %w", err), "the bundle file is written and logged: 'kesrotate qr frames BUNDLE --out DIR' writes its frames into an empty folder")
	}
	return cli.Hint(fmt.Errorf("--qr: %w", err), "give an empty folder (or one that does not exist yet) for the QR frames", "nothing was issued")
}

// printRotated prints a rotation's outcome: issued, sealed, logged. fin is
// the hardware wallet's finished rotation (nil otherwise): what became of
// its staged KES key and its folder.
func printRotated(g *globals, v *ceremony.Vault, name string, o *rotateOptions, res *ceremony.RotateResult, fin *ceremony.FinishResult) error {
	names := make([]string, len(res.SealedTo))
	for i, q := range res.SealedTo {
		names[i] = q.Name
	}
	if res.Issue.Forced {
		g.env.Warn("counter forced to %d (the rules chose %s); this is journaled", res.Issue.Cert.Counter, chosenText(res.Issue))
	}
	for _, w := range res.Warnings {
		g.env.Warn("%s", w)
	}
	overrideWarnings(g, res.Issue.Entry.Overrides, o.maxAge)
	frames, ckptQR := res.Frames, res.CheckpointQR
	c := res.Issue.Cert
	if g.env.JSON {
		out := rotateOutput{
			Pool: name, PoolID: c.PoolID().Hex(), PoolIDBech32: c.PoolID().Bech32(), Counter: c.Counter, KESPeriod: c.KESPeriod, Forced: res.Issue.Forced,
			Expiry: c.Expiry(v.Network).Format(time.RFC3339), CertHash: c.Hash(), KESVKeyHash: res.Issue.Entry.KESVKeyHash,
			Producer: names[0], SealedTo: names, ProducerFingerprint: res.Pin.Fingerprint, ProducerPinEntry: res.Pin.Seq,
			Bundle: res.BundleFile, BundleSHA256: res.BundleHash, BundleBytes: len(res.Bundle), Frames: frames,
			Checkpoint:    rotateCheckpointJSON(res, ckptQR),
			KESOnProducer: res.Issue.Entry.KESOnProducer, WithVRF: res.WithVRF, VRFFor: nonNil(res.VRFFor),
		}
		if fin != nil {
			destroyed, cleared := fin.KESDestroyed, fin.Cleared
			out.HardwareWallet, out.Left, out.KESDestroyed, out.Cleared = true, fin.Left, &destroyed, &cleared
		}
		return g.env.PrintJSON(out)
	}
	w := g.env.Stdout
	if len(res.SealedTo) > 1 {
		fmt.Fprintf(w, "issued op cert #%d for pool %s, sealed for producers %s\n", c.Counter, name, strings.Join(names, ", "))
	} else {
		fmt.Fprintf(w, "issued op cert #%d for pool %s, sealed for producer %s\n", c.Counter, name, names[0])
	}
	if fin != nil {
		fmt.Fprintf(w, "  signed      on the hardware wallet; the cert is the prepared one (pool, counter, KES period, KES key, signature)\n")
	}
	if len(res.SealedTo) == 1 {
		fmt.Fprintf(w, "  producer    fingerprint %s (pinned at log entry %d, %s)\n", res.Pin.Fingerprint, res.Pin.Seq, pinText(res.Pin.Signed))
	} else {
		for i, q := range res.SealedTo {
			fmt.Fprintf(w, "  producer    %s: fingerprint %s (pinned at log entry %d, %s)\n", q.Name, res.Pins[i].Fingerprint, res.Pins[i].Seq, pinText(res.Pins[i].Signed))
		}
	}
	fmt.Fprintf(w, "  chain       tip slot %d, on-chain counter %s\n", res.Snapshot.TipSlot, res.Snapshot.OnChain)
	fmt.Fprintf(w, "  KES period  %d (valid through period %d)\n", c.KESPeriod, c.Window(v.Network).End-1)
	fmt.Fprintf(w, "  expires     %s\n", c.Expiry(v.Network).Format(time.RFC3339))
	fmt.Fprintf(w, "  cert hash   %s\n", c.Hash())
	fmt.Fprintf(w, "  bundle      %s (%d bytes, sha256 %s)\n", res.BundleFile, len(res.Bundle), res.BundleHash[:16])
	if res.Issue.Entry.KESOnProducer {
		fmt.Fprintf(w, "  KES key     made on the producer; the bundle holds only the cert\n")
	}
	switch {
	case len(res.VRFFor) > 0:
		fmt.Fprintf(w, "  VRF key     included: %s never received it from this vault (--with-vrf=false leaves it out)\n", strings.Join(res.VRFFor, ", "))
	case res.WithVRF:
		fmt.Fprintf(w, "  VRF key     included (--with-vrf)\n")
	}
	if len(frames) > 0 {
		fmt.Fprintf(w, "  QR frames   %s\n", describeFrames(frames, o.qrDir))
	}
	if fin != nil {
		folder := fin.Prepared.Folder
		switch {
		case fin.KESDestroyed:
			fmt.Fprintf(w, "  staged KES  destroyed in the vault (the bundle carries the key)\n")
		case !fin.KESOnProducer:
			fmt.Fprintf(w, "  staged KES  NOT destroyed (see the warning)\n")
		}
		switch {
		case !fin.Cleared:
			fmt.Fprintf(w, "  folder      %s: nothing removed, the preparation stays; in it: %s\n", folder, strings.Join(fin.Left, ", "))
		case len(fin.Left) == 0:
			fmt.Fprintf(w, "  folder      %s removed\n", folder)
		default:
			fmt.Fprintf(w, "  folder      %s: kesrotate's files removed; left: %s\n", folder, strings.Join(fin.Left, ", "))
		}
	}
	printCheckpoint(w, res, ckptQR)
	return nil
}

// issuedError gives the hints of a failure after a cert was issued
// (ceremony.IssuedError): what was done is kept, and what to do next.
func issuedError(err error) (error, bool) {
	var ie *ceremony.IssuedError
	if !errors.As(err, &ie) {
		return err, false
	}
	if ie.Logged {
		return cli.Hint(err, fmt.Sprintf("cert #%d is issued and logged; fix what failed (a folder that takes the files, a key the vault lacks) and rotate again: it re-issues the same counter", ie.Cert.Counter)), true
	}
	return cli.Hint(err, fmt.Sprintf("cert #%d is issued; the next command that opens the log records it, flagged recovered ('kesrotate ceremony seal' does it now)", ie.Cert.Counter)), true
}

func rotateError(err error) error {
	if h, ok := issuedError(err); ok {
		return h
	}
	if h := secretError(err); h != err {
		return h
	}
	if h := hwError(err); h != err {
		return h
	}
	switch {
	case errors.Is(err, transfer.ErrSignature):
		return cli.Hint(err, "the snapshot was changed or comes from another producer: make a new one with 'kesrotate-agent snapshot'")
	case errors.Is(err, transfer.ErrStale):
		return cli.Hint(err, "make a fresh snapshot on the producer; --max-age (like 2d or 36h) or --allow-stale accept an older one")
	case errors.Is(err, transfer.ErrClockSkew):
		return cli.Hint(err, clockHint)
	case errors.Is(err, ceremony.ErrPinMismatch):
		return cli.Hint(err, "nothing was issued; someone replaced the producer's enrollment on this stick: do not rotate to it",
			"compare the fingerprint with 'kesrotate-agent enrollment' on the producer, and pin the real one under a new name")
	case errors.Is(err, ceremony.ErrSnapshotUsed):
		return cli.Hint(err, "a snapshot is good for one cert: make a new one with 'kesrotate-agent snapshot' (if that cert's bundle was lost, the new one gets the same counter)")
	case errors.Is(err, transfer.ErrWrongNetwork), errors.Is(err, transfer.ErrWrongPool):
		return cli.Hint(err, "use the snapshot of this pool's producer")
	case errors.Is(err, ceremony.ErrSealing):
		return cli.Hint(err, "nothing was issued")
	case errors.Is(err, ceremony.ErrQR):
		return qrError(err, false)
	case errors.Is(err, ceremony.ErrOutput):
		return cli.Hint(err, "give --out a folder this user can write, outside the vault (the bundle goes there, and the files for cardano-hw-cli of a hardware-wallet pool)", "nothing was issued")
	case errors.Is(err, ceremony.ErrNoProducer):
		return cli.Hint(err, "pin it first: 'kesrotate producer add NAME --enrollment FILE'; 'kesrotate producer list' shows the pins")
	case errors.Is(err, ceremony.ErrNoVRF):
		return cli.Hint(err, "the VRF key is not in the vault: leave out --with-vrf or import it")
	case errors.Is(err, transfer.ErrFormat):
		return cli.Hint(err, "give the file 'kesrotate-agent snapshot' wrote")
	}
	return counterError(err)
}

func runRotatePlain(g *globals, o *rotateOptions, name string) error {
	if o.kesPeriod == "" || o.onchain == "" || o.out == "" {
		return cli.Usage(errors.New("rotate needs --kes-period, --onchain-counter and --out"),
			"get both numbers from the producer: 'cardano-cli query kes-period-info' or 'kesrotate-agent status'")
	}
	period, err := strconv.ParseUint(o.kesPeriod, 10, 64)
	if err != nil {
		return cli.Usage(fmt.Errorf("--kes-period %q is not a number", o.kesPeriod), "give the current KES period, e.g. --kes-period 1012")
	}
	onchain, err := opcert.ParseOnChain(o.onchain)
	if err != nil {
		return cli.Usage(fmt.Errorf("--onchain-counter: %w", err), `give the pool's counter from the chain, or "none" if it never minted`)
	}
	force, err := parseForce(o.forceCounter)
	if err != nil {
		return err
	}
	v, p, now, err := g.openPoolAt(name)
	if err != nil {
		return err
	}
	res, err := v.RotatePlain(ceremony.PlainRequest{Pool: name, KESPeriod: period, OnChain: onchain, ForceCounter: force,
		IgnoreClock: o.ignoreClock, OutDir: o.out, Now: now})
	if h, ok := issuedError(err); ok {
		return h
	}
	switch {
	case errors.Is(err, ceremony.ErrHardwareKey):
		return cli.Usage(err, "rotate it with --producer NAME --snapshot FILE: the cert is prepared for the device, signed with cardano-hw-cli, and sealed to the producer")
	case errors.Is(err, transfer.ErrClockSkew):
		return cli.Hint(err, clockHint)
	case errors.Is(err, ceremony.ErrOutput):
		return cli.Hint(err, "give --out a folder for node.cert, kes.skey and kes.vkey: an empty one this user can write", "nothing was issued")
	case err != nil:
		return counterError(err)
	}
	defer res.KES.Wipe()
	if res.Forced {
		g.env.Warn("counter forced to %d (the rules chose %s); this is journaled", res.Cert.Counter, chosenText(res))
	}
	g.env.Warn("writing plaintext hot keys to %s: move them to the producer and delete them here (the encrypted path is 'rotate --producer')", o.out)
	return printIssued(g, v, p, res, o.out)
}

// chosenText is what the library says the rules chose.
func chosenText(res *ceremony.IssueResult) string {
	if res.RulesRefused != nil {
		return "nothing: they refused (" + res.RulesRefused.Error() + ")"
	}
	return strconv.FormatUint(res.Chosen, 10)
}

// clockHint is what to do about a KES period too far from the clock.
var clockHint = fmt.Sprintf("check this machine's date and the period on the producer; if the date is wrong, give the right time with --now (logged); --ignore-clock accepts a period up to %d periods off (logged)", transfer.MaxClockOverride)

func counterError(err error) error {
	if h := secretError(err); h != err {
		return h
	}
	switch {
	case errors.Is(err, opcert.ErrOnChainAhead):
		return cli.Hint(err,
			"another copy of this cold key may be issuing certs: find it before going on",
			"if you know why (certs issued with cardano-cli or cardano-hw-cli before import), --force-counter N issues N anyway")
	case errors.Is(err, opcert.ErrCounterExhausted):
		return cli.Hint(err, "the pool's counter cannot go higher; nothing was issued")
	case errors.Is(err, opcert.ErrOnChainBackwards):
		return cli.Hint(err,
			"the on-chain counter is older than one already seen: take it again from a synced node",
			"--force-counter N overrides the rules (journaled)")
	}
	return err
}

func printIssued(g *globals, v *ceremony.Vault, p *ceremony.Pool, res *ceremony.IssueResult, where string) error {
	c := res.Cert
	expiry := c.Expiry(v.Network)
	if g.env.JSON {
		return g.env.PrintJSON(rotateOutput{
			Pool: p.Meta.Name, PoolID: c.PoolID().Hex(), PoolIDBech32: c.PoolID().Bech32(),
			Counter: c.Counter, KESPeriod: c.KESPeriod, Forced: res.Forced, Expiry: expiry.Format(time.RFC3339),
			CertHash: c.Hash(), KESVKeyHash: res.Entry.KESVKeyHash, WrittenTo: where, VRFFor: []string{},
		})
	}
	w := g.env.Stdout
	fmt.Fprintf(w, "issued op cert #%d for pool %s\n", c.Counter, p.Meta.Name)
	fmt.Fprintf(w, "  pool id     %s\n", c.PoolID().Bech32())
	fmt.Fprintf(w, "  KES period  %d (valid through period %d)\n", c.KESPeriod, c.Window(v.Network).End-1)
	fmt.Fprintf(w, "  expires     %s\n", expiry.Format(time.RFC3339))
	fmt.Fprintf(w, "  cert hash   %s\n", c.Hash())
	fmt.Fprintf(w, "  written to  %s\n", where)
	return nil
}

// describeFrames counts what an operator will scan: the frame images, and
// the contact sheet beside them (which holds the same frames) apart.
func describeFrames(files []string, dir string) string {
	frames, sheet := transfer.SplitQRFiles(files)
	s := fmt.Sprintf("%d frames in %s", len(frames), dir)
	if sheet != "" {
		s += fmt.Sprintf(" (frame-*.png; %s shows them all on one page)", filepath.Base(sheet))
	}
	return s
}

// checkBundleVersion takes the bundle versions transfer writes
// (transfer.CheckBundleVersion).
func checkBundleVersion(v int) error {
	if err := transfer.CheckBundleVersion(v); err != nil {
		return cli.Usage(fmt.Errorf("--bundle-version: %w", err))
	}
	return nil
}
