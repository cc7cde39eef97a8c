package cold

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/kesrotate/kesrotate/ceremony"
	"github.com/kesrotate/kesrotate/internal/cli"
	"github.com/kesrotate/kesrotate/transfer"
)

func newProducerCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "producer",
		Short: "Pin block producers that bundles may be sent to",
		Args:  cli.Args(cobra.NoArgs),
	}
	c.AddCommand(newProducerAddCmd(g), newProducerListCmd(g), newProducerRemoveCmd(g))
	return c
}

type producerAddOptions struct {
	enrollment  string
	scan        []string
	fingerprint string
	yes         bool
}

func newProducerAddCmd(g *globals) *cobra.Command {
	o := &producerAddOptions{}
	c := &cobra.Command{
		Use:   "add NAME --enrollment FILE | --scan IMG… --fingerprint XXXX-XXXX-XXXX-XXXX",
		Short: "Pin a producer from its enrollment after comparing fingerprints",
		Long: `Pin a producer from the enrollment 'kesrotate-agent enrollment' wrote.
Give the fingerprint the agent printed on the producer with --fingerprint
(any case; 0, 1 and 8 are read as O, I and B), or type it when asked on a
terminal: the producer is pinned only if it matches the enrollment. Without
a terminal or --fingerprint nothing is pinned, unless --yes says to pin
without comparing. Bundles are only ever encrypted to pinned producers; a
pin is removed with 'producer remove'.`,
		Args: cli.Args(func(c *cobra.Command, args []string) error {
			if len(o.scan) > 0 {
				return cobra.MinimumNArgs(1)(c, args) // NAME, then more images
			}
			return cobra.ExactArgs(1)(c, args)
		}),
		RunE: func(c *cobra.Command, args []string) error {
			o.scan = append(o.scan, args[1:]...)
			return runProducerAdd(g, o, args[0])
		},
	}
	c.Flags().StringVar(&o.enrollment, "enrollment", "", "the enrollment file from the producer")
	c.Flags().StringSliceVar(&o.scan, "scan", nil, "image(s) of the enrollment QR code, more may follow as arguments; \"-\" reads an MJPEG stream on stdin")
	c.Flags().StringVar(&o.fingerprint, "fingerprint", "", "the fingerprint the producer showed; refuse if it differs")
	c.Flags().BoolVar(&o.yes, "yes", false, "pin without comparing fingerprints (when you compared them some other way)")
	c.MarkFlagsMutuallyExclusive("fingerprint", "yes")
	c.MarkFlagsMutuallyExclusive("enrollment", "scan")
	return c
}

// readTransfer reads a transfer file from --FLAG or from scanned QR images.
func readTransfer(g *globals, file, flag string, scan []string, urType string) ([]byte, error) {
	switch {
	case file != "":
		return readInput(file, flag)
	case len(scan) > 0:
		data, warnings, err := scanImages(g.env, scan, urType)
		for _, w := range warnings {
			g.env.Warn("%s", w)
		}
		if errors.Is(err, transfer.ErrIncomplete) {
			return nil, cli.Hint(err, "add more frame images to --scan; any frames, in any order")
		}
		if errors.Is(err, transfer.ErrAmbiguous) {
			return nil, cli.Hint(err, "give --scan only the images of the transfer you mean")
		}
		if err != nil {
			return nil, cli.Hint(err, "give PNG or JPEG images of the QR codes")
		}
		return data, nil
	}
	return nil, cli.Usage(fmt.Errorf("give %s FILE or --scan IMG…", flag))
}

// scanImages reads QR frames from image files, or, for "--scan -", from an
// MJPEG stream on stdin (a webcam through ffmpeg or similar).
func scanImages(env *cli.Env, scan []string, urType string) ([]byte, []string, error) {
	if len(scan) == 1 && scan[0] == "-" {
		return transfer.ScanStream(env.Stdin, urType)
	}
	p := env.Progress("reading QR images")
	return transfer.ScanProgress(scan, urType, func(done, total int) { p.Update("", done, total) })
}

func runProducerAdd(g *globals, o *producerAddOptions, name string) error {
	if err := ceremony.CheckName(name); err != nil {
		return cli.Usage(err)
	}
	v, err := g.openVault()
	if err != nil {
		return err
	}
	data, err := readTransfer(g, o.enrollment, "--enrollment", o.scan, transfer.UREnrollment)
	if err != nil {
		return err
	}
	// Refuse a file that is no enrollment before asking for its
	// fingerprint; what is pinned and printed is AddProducer's.
	_, err = transfer.ParseEnrollment(data)
	if errors.Is(err, transfer.ErrWrongKind) {
		return cli.Hint(err, "give the enrollment 'kesrotate-agent enrollment --out FILE' wrote on the producer (bp1.kre in the runbook)")
	}
	if err != nil {
		return cli.Hint(fmt.Errorf("enrollment: %w", err), "write it again on the producer: 'kesrotate-agent enrollment --out FILE'")
	}
	typed, err := askFingerprint(g, o)
	if err != nil {
		return err
	}
	now, err := g.env.Now()
	if err != nil {
		return err
	}
	p, err := v.AddProducer(name, data, ceremony.AddProducerOptions{Fingerprint: typed, Now: now})
	switch {
	case errors.Is(err, ceremony.ErrName):
		return cli.Usage(err)
	case errors.Is(err, ceremony.ErrFingerprintMismatch):
		return cli.Hint(err, "nothing was pinned: this enrollment is not the one the producer showed (a swapped file or stick); make a new one on the producer and compare again")
	case errors.Is(err, transfer.ErrFormat):
		// The enrollment parsed above: what is malformed is the fingerprint.
		return cli.Usage(err, "copy it from 'kesrotate-agent enrollment' on the producer; nothing was pinned")
	case errors.Is(err, ceremony.ErrProducerExists):
		return cli.Hint(err, "a pin is never changed in place: pick another name, or 'kesrotate producer remove NAME' first to replace it")
	case errors.Is(err, ceremony.ErrEnrollmentMismatch):
		return cli.Hint(err, "set up the agent with this pool's cold.vkey and the vault's network")
	case err != nil:
		return secretError(err)
	}
	if g.env.JSON {
		e := p.Enrollment
		return g.env.PrintJSON(producerAdded{Name: p.Name, Fingerprint: e.Fingerprint(), PoolID: e.PoolID.Hex(), Recipient: e.Recipient,
			PinnedSeq: p.Pin.Seq, ColdSigned: p.Pin.Signed, Compared: p.Compared})
	}
	w := g.env.Stdout
	vouch := "the pin is signed by the pool's cold key"
	if !p.Pin.Signed {
		vouch = "the pool's cold key is on a hardware wallet: the audit key vouches for the pin"
	}
	fmt.Fprintf(w, "producer %s pinned for pool %s (%s)\n", p.Name, p.Enrollment.PoolID.Bech32(), vouch)
	fmt.Fprintf(w, "  fingerprint  %s\n", p.Pin.Fingerprint)
	if !p.Compared {
		g.env.Warn("pinned without comparing fingerprints (--yes): if %s is not what kesrotate-agent showed, run 'kesrotate producer remove %s'", p.Pin.Fingerprint, name)
	}
	return nil
}

// askFingerprint is the fingerprint the operator read on the producer:
// from --fingerprint, else typed at the terminal; "" with --yes (pin
// without comparing). AddProducer compares it.
func askFingerprint(g *globals, o *producerAddOptions) (string, error) {
	if o.yes || o.fingerprint != "" {
		return o.fingerprint, nil
	}
	f, ok := g.env.Stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", cli.Usage(errors.New("no --fingerprint to compare the enrollment with, and no terminal to ask for it"),
			"give --fingerprint XXXX-XXXX-XXXX-XXXX as 'kesrotate-agent enrollment' showed it on the producer (or --yes to pin without comparing)")
	}
	fmt.Fprintf(g.env.Stderr, "Type the fingerprint kesrotate-agent showed on the producer (XXXX-XXXX-XXXX-XXXX): ")
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil && line == "" {
		return "", cli.Hint(fmt.Errorf("reading the fingerprint: %w", err), "nothing was pinned; give --fingerprint instead")
	}
	typed := strings.TrimSpace(line)
	if typed == "" {
		return "", cli.Usage(errors.New("no fingerprint typed"), "nothing was pinned; type the fingerprint the producer showed, or give --fingerprint")
	}
	return typed, nil
}

func newProducerRemoveCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove a producer's pin: no further bundle is sealed to it",
		Long: `Remove the pin of a producer that is retired, rebuilt or was pinned by
mistake: a producer-removed entry in the ceremony log, then its enrollment
file is deleted. No bundle is sealed to it afterwards. What it already
holds stays with it: a cert it received keeps forging until it expires or
a newer counter is on chain. To replace a producer, remove it and add its
new enrollment under the same name.`,
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
			pin, err := v.RemoveProducer(args[0], now)
			switch {
			case errors.Is(err, ceremony.ErrName):
				return cli.Usage(err)
			case errors.Is(err, ceremony.ErrNoProducer):
				return cli.Hint(err, "'kesrotate producer list' shows the pinned producers")
			case err != nil && pin.Removed > 0:
				return cli.Hint(err, "the pin is removed; the leftover file goes the next time the vault is used")
			case err != nil:
				return secretError(err)
			}
			if g.env.JSON {
				return g.env.PrintJSON(producerRemoved{Name: args[0], Fingerprint: pin.Fingerprint, PoolID: pin.Pool, PinnedSeq: pin.Seq, RemovedSeq: pin.Removed})
			}
			fmt.Fprintf(g.env.Stdout, "producer %s removed (pinned at log entry %d, removed at entry %d)\n", args[0], pin.Seq, pin.Removed)
			fmt.Fprintf(g.env.Stdout, "  fingerprint  %s\n", pin.Fingerprint)
			fmt.Fprintf(g.env.Stdout, "  no bundle is sealed to it from now on; what it already holds stays valid until it expires\n")
			return nil
		},
	}
}

func newProducerListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List pinned producers",
		Args:  cli.Args(cobra.NoArgs),
		RunE: func(c *cobra.Command, _ []string) error {
			v, err := g.openVault()
			if err != nil {
				return err
			}
			ps, err := v.Producers()
			if err != nil {
				return err
			}
			views := []producerView{}
			for _, p := range ps {
				views = append(views, producerView{p.Name, p.Enrollment.Fingerprint(), p.Enrollment.PoolID.Hex()})
			}
			if g.env.JSON {
				return g.env.PrintJSON(views)
			}
			for _, vw := range views {
				fmt.Fprintf(g.env.Stdout, "%-16s %s  pool %s\n", vw.Name, vw.Fingerprint, vw.PoolID)
			}
			return nil
		},
	}
}
