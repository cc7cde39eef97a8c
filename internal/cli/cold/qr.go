package cold

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/kesrotate/kesrotate/internal/cli"
	"github.com/kesrotate/kesrotate/transfer"
	"github.com/kesrotate/kesrotate/transfer/qr"
)

type qrShowOptions struct {
	fps        float64
	cols, rows int
	once       bool
	light      bool
	fragment   int
}

func newQRCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "qr",
		Short: "Show transfer files as QR codes in the terminal",
		Args:  cli.Args(cobra.NoArgs),
	}
	c.AddCommand(newQRShowCmd(g), newQRFramesCmd(g))
	return c
}

func newQRShowCmd(g *globals) *cobra.Command {
	o := &qrShowOptions{}
	c := &cobra.Command{
		Use:   "show FILE.age [--fps N]",
		Short: "Animate a bundle's QR frames in the terminal for a camera to read",
		Long: `Draw the bundle's BC-UR frames in the terminal with half blocks, one after
another at --fps frames a second, until interrupted (or once with --once).
The producer scans them with 'kesrotate-agent install --scan'. The terminal
must be large enough for one frame; make the font smaller if it is not.

With --json nothing is drawn: the text of each frame (UR:KESROTATE-BUNDLE/…)
is printed, for another program to show as QR codes.`,
		Args: cli.Args(cobra.ExactArgs(1)),
		RunE: func(c *cobra.Command, args []string) error { return runQRShow(g, o, args[0]) },
	}
	f := c.Flags()
	f.Float64Var(&o.fps, "fps", 4, "frames per second")
	f.IntVar(&o.cols, "cols", 0, "terminal columns (default: asked from the terminal)")
	f.IntVar(&o.rows, "rows", 0, "terminal rows (default: asked from the terminal)")
	f.BoolVar(&o.once, "once", false, "show every frame once and stop")
	f.BoolVar(&o.light, "light", false, "the terminal has dark text on a light background")
	f.IntVar(&o.fragment, "fragment-len", transfer.DefaultFragmentLen, "bytes of the file per frame")
	return c
}

func runQRShow(g *globals, o *qrShowOptions, file string) error {
	if o.fps <= 0 || o.fps > 30 {
		return cli.Usage(fmt.Errorf("--fps %v: want more than 0 and at most 30", o.fps))
	}
	data, err := readInput(file, "FILE")
	if err != nil {
		return err
	}
	frames, err := transfer.Frames(transfer.URBundle, data, o.fragment)
	if errors.Is(err, transfer.ErrNotEncrypted) {
		return cli.Hint(fmt.Errorf("%s is %w", file, err), "qr show sends only the *.age bundles 'kesrotate rotate --producer' writes: plaintext keys never go on screen")
	}
	if err != nil {
		return cli.Usage(err)
	}
	if g.env.JSON {
		n, err := transfer.Fragments(transfer.URBundle, data, o.fragment)
		if err != nil {
			return err
		}
		return g.env.PrintJSON(qrShowOutput{Bundle: file, BundleSHA256: transfer.FileHash(data), Fragments: n, URFrames: nonNil(frames)})
	}
	cols, rows := o.cols, o.rows
	if cols == 0 || rows == 0 {
		cols, rows = terminalSize(g)
	}
	if cols == 0 || rows == 0 {
		return cli.Usage(errors.New("cannot tell the terminal's size"), "run it in a terminal, or give --cols and --rows")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if o.once {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(float64(len(frames))/o.fps*float64(time.Second)))
		defer cancel()
	}
	err = qr.Animate(ctx, g.env.Stdout, frames, o.fps, cols, rows, qr.TermOptions{DarkOnLight: o.light})
	if errors.Is(err, qr.ErrTerminalTooSmall) {
		return cli.Hint(err, "enlarge the window or make the font smaller; --fragment-len 120 gives smaller frames")
	}
	return err
}

// terminalSize asks the terminal on stdout, then $COLUMNS and $LINES.
func terminalSize(g *globals) (int, int) {
	if f, ok := g.env.Stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if c, r, err := term.GetSize(int(f.Fd())); err == nil {
			return c, r
		}
	}
	c, _ := strconv.Atoi(g.env.Getenv("COLUMNS"))
	r, _ := strconv.Atoi(g.env.Getenv("LINES"))
	return c, r
}
