package cold

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/kesrotate/kesrotate/internal/cli"
	"github.com/kesrotate/kesrotate/transfer"
)

type qrFramesOptions struct {
	out      string
	more     int
	fragment int
}

func newQRFramesCmd(g *globals) *cobra.Command {
	o := &qrFramesOptions{}
	c := &cobra.Command{
		Use:   "frames FILE.age --out DIR [--more N]",
		Short: "Write a bundle's QR frames as images, or further frames of it",
		Long: fmt.Sprintf(`Write the QR frames of a bundle that 'kesrotate rotate' or 'kesrotate fleet
rotate' wrote, as PNG images (frame-001.png …) and a contact sheet
(frames.png), into --out, which must not hold frames already. Nothing is
issued: the bundle is the same, so are its frames.

The default set lets any %d frames be lost. When the producer's scan still
cannot finish (it names the fragments it lacks), --more N writes N further
frames of the same bundle, numbered after the default set: each can stand
in for any lost one.`, transfer.FrameLoss),
		Args: cli.Args(cobra.ExactArgs(1)),
		RunE: func(c *cobra.Command, args []string) error { return runQRFrames(g, o, args[0]) },
	}
	f := c.Flags()
	f.StringVar(&o.out, "out", "", "folder for the images (created if missing)")
	f.IntVar(&o.more, "more", 0, "write this many further frames instead of the default set")
	f.IntVar(&o.fragment, "fragment-len", transfer.DefaultFragmentLen, "bytes of the file per frame (as the bundle's frames were made)")
	_ = c.MarkFlagRequired("out")
	return c
}

func runQRFrames(g *globals, o *qrFramesOptions, file string) error {
	if o.more < 0 || o.more > 1000 {
		return cli.Usage(fmt.Errorf("--more %d: want 1 to 1000", o.more))
	}
	data, err := readInput(file, "FILE")
	if err != nil {
		return err
	}
	if err := transfer.CheckQRDir(o.out); err != nil {
		return cli.Hint(fmt.Errorf("--out: %w", err), "give an empty folder (or one that does not exist yet)")
	}
	set, err := transfer.Frames(transfer.URBundle, data, o.fragment)
	if errors.Is(err, transfer.ErrNotEncrypted) {
		return cli.Hint(fmt.Errorf("%s is %w", file, err), "give a *.age bundle that 'kesrotate rotate --producer' wrote: plaintext keys never go into QR codes")
	}
	if err != nil {
		return cli.Usage(err)
	}
	frames, first := set, 1
	if o.more > 0 {
		if frames, err = transfer.MoreFrames(transfer.URBundle, data, o.fragment, o.more); err != nil {
			return cli.Hint(err)
		}
		first = len(set) + 1
	}
	files, err := transfer.WriteFrames(o.out, frames, first)
	if err != nil {
		return cli.Hint(fmt.Errorf("writing QR frames: %w", err), "nothing was issued; write them into an empty folder")
	}
	fragments, err := transfer.Fragments(transfer.URBundle, data, o.fragment)
	if err != nil {
		return err
	}
	images, sheet := transfer.SplitQRFiles(files)
	if g.env.JSON {
		return g.env.PrintJSON(qrFramesOutput{Bundle: file, BundleSHA256: transfer.FileHash(data), Fragments: fragments,
			FirstFrame: first, Frames: nonNil(images), Files: nonNil(files), DefaultSet: len(set), AnyLost: transfer.FrameLoss})
	}
	w := g.env.Stdout
	if o.more > 0 {
		fmt.Fprintf(w, "wrote %d further frames of %s (frames %d to %d) into %s\n", len(frames), filepath.Base(file), first, first+len(frames)-1, o.out)
		fmt.Fprintf(w, "  each stands in for any lost frame of the %d-frame set; the file has %d fragments\n", len(set), fragments)
		return nil
	}
	if sheet == "" {
		fmt.Fprintf(w, "wrote %s as one QR code into %s\n", filepath.Base(file), images[0])
		return nil
	}
	fmt.Fprintf(w, "wrote %d frames of %s (%d fragments) into %s, and the contact sheet %s\n", len(images), filepath.Base(file), fragments, o.out, filepath.Base(sheet))
	fmt.Fprintf(w, "  any %d of them may be lost; 'kesrotate qr frames %s --more N --out DIR' writes further frames\n", transfer.FrameLoss, file)
	return nil
}
