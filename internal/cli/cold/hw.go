package cold

// Pools whose cold key is on a hardware wallet: pool import-hw, pool new
// --hw-signing-file, and the two halves of their rotation around
// cardano-hw-cli (rotate POOL --producer … prepares; rotate POOL
// --signed-cert F finishes; rotate POOL --abandon gives up). kesrotate
// never runs cardano-hw-cli: it prints the command.

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kesrotate/kesrotate/ceremony"
	"github.com/kesrotate/kesrotate/internal/cli"
	"github.com/kesrotate/kesrotate/keys"
)

// keyGenCommand is what makes a pool's first cold key on a Ledger.
var keyGenCommand = strings.Join(keys.HWKeyGenCommand(keys.ColdKeyPath(0)), " ")

type importHWOptions struct{ signingFile, counter, vrfSkey string }

func newPoolImportHWCmd(g *globals) *cobra.Command {
	o := &importHWOptions{}
	c := &cobra.Command{
		Use:   "import-hw NAME --hw-signing-file FILE [--counter FILE] [--vrf-skey FILE]",
		Short: "Import a pool whose cold key is on a hardware wallet (cardano-hw-cli's signing file)",
		Long: `Import a pool whose cold key is on a Ledger (Nano S Plus, Nano X, Stax, Flex;
not a Nano S with the Cardano app 7 or later, nor a Trezor: they do not sign
operational certificates), from the signing file cardano-hw-cli wrote:

  ` + keyGenCommand + `

The vault keeps the signing file and the cold vkey (the first 32 bytes of
its extended public key); the key never leaves the device. The path must be
a pool cold key's, 1853H/1815H/0H/NH. Give the counter file cardano-hw-cli
updated last if certs were signed with the key before: the vault takes
every number below its next one as possibly issued. Without it, the vault
knows of no cert signed with the key.

Rotations of such a pool stop before the signature: 'kesrotate rotate POOL
--producer NAME --snapshot FILE' writes the files for 'cardano-hw-cli node
issue-op-cert' and prints the command; 'kesrotate rotate POOL --signed-cert
FILE' finishes with the cert the device signed.`,
		Args: cli.Args(cobra.ExactArgs(1)),
		RunE: func(c *cobra.Command, args []string) error {
			v, err := g.openVault()
			if err != nil {
				return err
			}
			now, err := g.env.Now()
			if err != nil {
				return err
			}
			var in ceremony.HWImport
			if in.SigningFile, err = readInput(o.signingFile, "--hw-signing-file"); err != nil {
				return err
			}
			if o.counter != "" {
				if in.Counter, err = readInput(o.counter, "--counter"); err != nil {
					return err
				}
			}
			if o.vrfSkey != "" {
				if in.VRFSkey, err = readInput(o.vrfSkey, "--vrf-skey"); err != nil {
					return err
				}
			}
			p, err := v.ImportHWPool(args[0], in, now)
			if err != nil {
				return poolAddError(err)
			}
			if in.Counter == nil {
				g.env.Warn("no --counter: the vault knows of no cert signed with this key; if the device signed certs with it before, the first rotation refuses the chain's counter and needs --force-counter with the on-chain counter + 1 (logged)")
			}
			return printPoolSummary(g, p, "imported")
		},
	}
	c.Flags().StringVar(&o.signingFile, "hw-signing-file", "", "cardano-hw-cli's signing file of the pool cold key (node key-gen --hw-signing-file)")
	c.Flags().StringVar(&o.counter, "counter", "", "the op-cert issue counter file cardano-hw-cli updated last (optional)")
	c.Flags().StringVar(&o.vrfSkey, "vrf-skey", "", "cardano-cli VRF signing key (optional)")
	_ = c.MarkFlagRequired("hw-signing-file")
	return c
}

// shellWord matches what a shell takes as one word as it is.
var shellWord = regexp.MustCompile(`^[A-Za-z0-9_./:=@%+,^-]+$`)

// shellLine writes args as one shell command line, quoting what needs it.
func shellLine(args []string, indent string) string {
	var b strings.Builder
	for i, a := range args {
		if !shellWord.MatchString(a) {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		switch {
		case i == 0:
		case strings.HasPrefix(a, "--"):
			b.WriteString(" \\\n" + indent + "    ")
		default:
			b.WriteString(" ")
		}
		b.WriteString(a)
	}
	return indent + b.String()
}

// finishLine is the command that finishes the preparation.
func finishLine(pool string, pr *ceremony.Prepared, qrDir string) []string {
	args := []string{"kesrotate", "rotate", pool, "--signed-cert", pr.SignedCertPath()}
	if qrDir != "" {
		args = append(args, "--qr", qrDir)
	}
	return args
}

// pinText says who vouches for a pin.
func pinText(signed bool) string {
	if signed {
		return "signed by the pool's cold key"
	}
	return "the cold key is on a hardware wallet: the audit key vouches for the pin"
}

func runRotatePrepare(g *globals, o *rotateOptions, v *ceremony.Vault, name string, req ceremony.RotateRequest) error {
	res, err := v.PrepareRotation(req)
	if err != nil {
		return rotateError(err)
	}
	pr := res.Prepared
	if pr.Forced {
		g.env.Warn("counter forced to %d (the rules chose %d); this is logged and journaled with the cert", pr.Counter, pr.Chosen)
	}
	overrideWarnings(g, slices.Sorted(maps.Keys(pr.Overrides)), o.maxAge)
	p, err := v.Pool(name)
	if err != nil {
		return err
	}
	if g.env.JSON {
		id, err := p.PoolID()
		if err != nil {
			return err
		}
		out := rotateOutput{
			Pool: name, PoolID: id.Hex(), PoolIDBech32: id.Bech32(), Counter: pr.Counter, KESPeriod: pr.KESPeriod, Forced: pr.Forced,
			Expiry: pr.Expiry(v.Network).Format(time.RFC3339), Producer: pr.Producers[0], SealedTo: pr.Producers,
			KESOnProducer: pr.KESOnProducer, WithVRF: pr.WithVRF, VRFFor: nonNil(pr.VRFFor),
			Prepared: true, KESVKey: res.Device.KESVKey, Folder: pr.Folder, Files: res.Files, Command: pr.Command(),
			SignedCert: pr.SignedCertPath(), Finish: finishLine(name, pr, o.qrDir), Device: &res.Device, LogEntry: res.LogEntry,
		}
		if len(res.Pins) > 0 {
			out.ProducerFingerprint, out.ProducerPinEntry = res.Pins[0].Fingerprint, res.Pins[0].Seq
		}
		return g.env.PrintJSON(out)
	}
	w := g.env.Stdout
	fmt.Fprintf(w, "prepared op cert #%d for pool %s, for producer %s: the hardware wallet signs it next\n", pr.Counter, name, strings.Join(pr.Producers, ", "))
	for i, q := range res.SealedTo {
		fmt.Fprintf(w, "  producer    %s: fingerprint %s (pinned at log entry %d; %s)\n", q.Name, res.Pins[i].Fingerprint, res.Pins[i].Seq, pinText(res.Pins[i].Signed))
	}
	fmt.Fprintf(w, "  chain       tip slot %d, on-chain counter %s\n", res.Snapshot.TipSlot, res.Snapshot.OnChain)
	fmt.Fprintf(w, "  counter     %d (from the journal and the chain; the folder's cold.counter holds it for cardano-hw-cli)\n", pr.Counter)
	fmt.Fprintf(w, "  KES period  %d (valid through period %d)\n", pr.KESPeriod, pr.Window(v.Network).End-1)
	fmt.Fprintf(w, "  expires     %s\n", pr.Expiry(v.Network).Format(time.RFC3339))
	if pr.KESOnProducer {
		fmt.Fprintf(w, "  KES key     made on the producer\n")
	} else {
		kept := "kept in the vault until the cert is signed"
		if v.Encrypted() {
			kept = "kept encrypted in the vault until the cert is signed"
		}
		fmt.Fprintf(w, "  KES key     %s (%s)\n", res.Device.KESVKey, kept)
	}
	fmt.Fprintf(w, "  folder      %s\n", pr.Folder)
	switch {
	case len(pr.VRFFor) > 0:
		fmt.Fprintf(w, "  VRF key     to be included: %s never received it from this vault (--with-vrf=false leaves it out)\n", strings.Join(pr.VRFFor, ", "))
	case pr.WithVRF:
		fmt.Fprintf(w, "  VRF key     to be included (--with-vrf)\n")
	}
	fmt.Fprintf(w, "\nsign it on the device (Cardano app open):\n%s\n\n", shellLine(pr.Command(), "  "))
	printDeviceScreen(w, res.Device)
	fmt.Fprintf(w, "\nthen finish (journal, log, bundle):\n%s\n", shellLine(finishLine(name, pr, o.qrDir), "  "))
	if pr.KESOnProducer {
		fmt.Fprintf(w, "or give up (%s keeps its KES key: discard it there with 'kesrotate-agent kes new --replace'):\n  kesrotate rotate %s --abandon\n", pr.Producers[0], name)
	} else {
		fmt.Fprintf(w, "or give up (the KES key is destroyed):\n  kesrotate rotate %s --abandon\n", name)
	}
	return nil
}

// printDeviceScreen lists what the Ledger shows before it signs.
func printDeviceScreen(w io.Writer, d ceremony.DeviceScreen) {
	fmt.Fprintf(w, "the device shows these; compare each, reject on the device if one differs:\n")
	fmt.Fprintf(w, "  Pool cold key path  %s\n", d.Path)
	fmt.Fprintf(w, "  Pool ID             %s\n", d.PoolID)
	fmt.Fprintf(w, "  KES public key      %s\n", d.KESVKey)
	fmt.Fprintf(w, "  KES period          %d\n", d.KESPeriod)
	fmt.Fprintf(w, "  Issue counter       %d\n", d.Counter)
}

// runRotateHW finishes (--signed-cert, --finish) or abandons the pool's
// prepared rotation.
func runRotateHW(g *globals, o *rotateOptions, c *cobra.Command, name string) error {
	for _, f := range []string{"producer", "snapshot", "scan", "with-vrf", "bundle-version", "max-age", "allow-stale", "kes-period", "onchain-counter", "out", "force-counter", "ignore-clock"} {
		if c.Flags().Changed(f) {
			return cli.Usage(fmt.Errorf("--%s goes with the preparation ('rotate POOL --producer NAME --snapshot FILE'), not with --signed-cert, --finish or --abandon", f),
				"the prepared rotation already holds the producers, snapshot and output folder")
		}
	}
	v, p, now, err := g.openPoolAt(name)
	if err != nil {
		return err
	}
	if o.abandon {
		return runAbandon(g, v, p, name, now)
	}
	var signed []byte // --finish: where the printed command wrote it
	if !o.finish {
		if signed, err = readInput(o.signedCert, "--signed-cert"); err != nil {
			return err
		}
	}
	res, err := v.FinishRotation(ceremony.FinishRequest{Pool: name, SignedCert: signed, Now: now, QRDir: o.qrDir})
	if h, ok := issuedError(err); ok {
		return h // before the cert's own file: the bundle's may be missing too
	}
	if o.finish && errors.Is(err, fs.ErrNotExist) {
		return cli.Hint(err, "run the printed cardano-hw-cli command first: it writes the cert there ('kesrotate pool show POOL' shows the command)")
	}
	if err != nil && (res == nil || res.RotateResult == nil) {
		return rotateError(err)
	}
	defer res.Issue.KES.Wipe()
	if errors.Is(err, ceremony.ErrQR) {
		return qrError(err, true)
	}
	if err != nil {
		g.env.Warn("the bundle is written and logged, but the preparation's files were not all removed: %v", err)
	}
	return printRotated(g, v, name, o, res.RotateResult, res)
}

// hwError gives the hints of hardware-wallet pools' errors, or returns
// err.
func hwError(err error) error {
	switch {
	case errors.Is(err, ceremony.ErrHardwareKey):
		return cli.Hint(err, "the key never leaves the device: 'kesrotate rotate POOL --producer NAME --snapshot FILE' prepares its op cert for cardano-hw-cli; the device's own recovery phrase is its backup")
	case errors.Is(err, ceremony.ErrPrepared):
		return cli.Hint(err, "finish it with the cert the device signed ('kesrotate rotate POOL --signed-cert FILE'), or give it up ('kesrotate rotate POOL --abandon'); 'kesrotate pool show POOL' shows the command to sign it")
	case errors.Is(err, ceremony.ErrNotHardware):
		return cli.Usage(err, "rotate it with 'kesrotate rotate POOL --producer NAME --snapshot FILE'")
	case errors.Is(err, ceremony.ErrNotPrepared):
		return cli.Hint(err, "prepare a rotation first: 'kesrotate rotate POOL --producer NAME --snapshot FILE'")
	case errors.Is(err, ceremony.ErrSignedCert):
		return cli.Hint(err, "nothing was journaled or sealed; run the printed cardano-hw-cli command again (cold.counter in the folder must hold the prepared number) and compare the device's screens, or give up with 'kesrotate rotate POOL --abandon'")
	case errors.Is(err, ceremony.ErrPreparation):
		return cli.Hint(err, "'kesrotate rotate POOL --abandon' ends the preparation and destroys what is left of its KES key")
	case errors.Is(err, keys.ErrHWPath):
		return cli.Hint(err, "make the key with '"+keyGenCommand+"'")
	case errors.Is(err, keys.ErrHWSigningFile):
		return cli.Hint(err, "give the signing file 'cardano-hw-cli node key-gen' wrote (--hw-signing-file)")
	}
	return err
}

// runAbandon gives up the pool's prepared rotation and says what that
// destroyed and what stayed (ceremony.Abandoned).
func runAbandon(g *globals, v *ceremony.Vault, p *ceremony.Pool, name string, now time.Time) error {
	ab, err := v.AbandonRotation(name, now)
	if err != nil && ab == nil {
		return rotateError(err)
	}
	if err != nil {
		g.env.Warn("%v", err)
	}
	pr := ab.Prepared
	producer := strings.Join(pr.Producers, ", ")
	if ab.KESOnProducer {
		g.env.Warn("the KES key was made on producer %s, which still holds it: a cert the device signed for it can still make a block there; run 'kesrotate-agent kes new --replace' on %s to discard it", producer, producer)
	}
	if g.env.JSON {
		id, err := p.PoolID()
		if err != nil {
			return err
		}
		destroyed := ab.KESDestroyed
		return g.env.PrintJSON(rotateOutput{Pool: name, PoolID: id.Hex(), PoolIDBech32: id.Bech32(), Counter: pr.Counter, KESPeriod: pr.KESPeriod,
			Forced: pr.Forced, KESOnProducer: ab.KESOnProducer, WithVRF: pr.WithVRF, VRFFor: nonNil(pr.VRFFor), Folder: pr.Folder, Abandoned: true,
			KESDestroyed: &destroyed, Left: ab.Left})
	}
	w := g.env.Stdout
	fmt.Fprintf(w, "abandoned the prepared op cert #%d of pool %s (KES period %d)\n", pr.Counter, name, pr.KESPeriod)
	switch {
	case ab.KESOnProducer:
		fmt.Fprintf(w, "  KES key     made on producer %s, which still holds it as its pending key: a cert the device signed for it can still make a block there\n", producer)
		fmt.Fprintf(w, "              discard it there: 'kesrotate-agent kes new --replace' (it makes a new pending key; with kes-agent, a new staged one)\n")
	case ab.KESDestroyed:
		fmt.Fprintf(w, "  KES key     destroyed: a cert the device signed for it can never make a block\n")
	default:
		fmt.Fprintf(w, "  KES key     none staged in the vault: nothing to destroy\n")
	}
	if len(ab.Left) == 0 {
		fmt.Fprintf(w, "  folder      %s removed (its files)\n", pr.Folder)
	} else {
		fmt.Fprintf(w, "  folder      %s: kesrotate's files removed; left: %s\n", pr.Folder, strings.Join(ab.Left, ", "))
	}
	return nil
}
