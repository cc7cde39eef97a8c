package cold

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

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
	c.AddCommand(newProducerAddCmd(g), newProducerListCmd(g))
	return c
}

type producerAddOptions struct {
	enrollment  string
	scan        []string
	fingerprint string
}

func newProducerAddCmd(g *globals) *cobra.Command {
	o := &producerAddOptions{}
	c := &cobra.Command{
		Use:   "add NAME --enrollment FILE | --scan IMG… [--fingerprint XXXX-XXXX-XXXX-XXXX]",
		Short: "Pin a producer from its enrollment after comparing fingerprints",
		Long: `Pin a producer from the enrollment 'kesrotate-agent enrollment' wrote.
Compare the fingerprint printed here with the one the agent printed; pass
it with --fingerprint to have kesrotate compare it for you. Bundles are only
ever encrypted to pinned producers.`,
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
	return transfer.Scan(scan, urType)
}

func runProducerAdd(g *globals, o *producerAddOptions, name string) error {
	v, err := g.openVault()
	if err != nil {
		return err
	}
	data, err := readTransfer(g, o.enrollment, "--enrollment", o.scan, transfer.UREnrollment)
	if err != nil {
		return err
	}
	e, err := transfer.ParseEnrollment(data)
	if err != nil {
		return cli.Hint(fmt.Errorf("enrollment: %w", err), "write it again on the producer: 'kesrotate-agent enrollment --out FILE'")
	}
	if o.fingerprint != "" && !strings.EqualFold(strings.TrimSpace(o.fingerprint), e.Fingerprint()) {
		return cli.Hint(fmt.Errorf("fingerprint mismatch: the enrollment is %s, you expected %s", e.Fingerprint(), o.fingerprint),
			"this is not the enrollment the producer showed: do not pin it")
	}
	p, err := v.AddProducer(name, data)
	switch {
	case errors.Is(err, ceremony.ErrName):
		return cli.Usage(err)
	case errors.Is(err, ceremony.ErrProducerExists):
		return cli.Hint(err, "pins are never replaced; pick another name")
	case errors.Is(err, ceremony.ErrEnrollmentMismatch):
		return cli.Hint(err, "set up the agent with this pool's cold.vkey and the vault's network")
	case err != nil:
		return secretError(err)
	}
	if g.env.JSON {
		return g.env.PrintJSON(map[string]any{"name": name, "fingerprint": e.Fingerprint(), "pool_id": e.PoolID.Hex(), "recipient": e.Recipient})
	}
	w := g.env.Stdout
	fmt.Fprintf(w, "producer %s pinned for pool %s (the pin is signed by the pool's cold key)\n", p.Name, e.PoolID.Bech32())
	fmt.Fprintf(w, "  fingerprint  %s\n", e.Fingerprint())
	if o.fingerprint == "" {
		g.env.Warn("compare the fingerprint %s with the one kesrotate-agent showed; if they differ, this vault has pinned the wrong producer", e.Fingerprint())
	}
	return nil
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
			type view struct {
				Name        string `json:"name"`
				Fingerprint string `json:"fingerprint"`
				PoolID      string `json:"pool_id"`
			}
			views := []view{}
			for _, p := range ps {
				views = append(views, view{p.Name, p.Enrollment.Fingerprint(), p.Enrollment.PoolID.Hex()})
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
