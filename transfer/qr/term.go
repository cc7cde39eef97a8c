package qr

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// DefaultTermQuietZone is the quiet zone, in modules, of terminal renderings.
const DefaultTermQuietZone = 4

// TermOptions tune the terminal renderers; the zero value suits a terminal
// with light text on a dark background, level L, a 4-module quiet zone.
type TermOptions struct {
	// DarkOnLight draws dark modules with block characters, for terminals
	// with dark text on a light background. By default the light modules
	// (and the quiet zone) are drawn, so the symbol shows dark on light on
	// a dark terminal.
	DarkOnLight bool
	Level       Level
	Version     int // 0 picks the smallest that fits
	QuietZone   int // modules; 0 means DefaultTermQuietZone
}

// halfBlocks renders one symbol: two module rows per text line. Lines end in
// "\n" and have no trailing escape codes.
func halfBlocks(content string, opts TermOptions) (lines []string, err error) {
	bm, _, err := symbol(content, opts.Level, opts.Version)
	if err != nil {
		return nil, err
	}
	qz := opts.QuietZone
	if qz == 0 {
		qz = DefaultTermQuietZone
	}
	if qz < 0 {
		return nil, fmt.Errorf("%w: quiet zone %d", ErrOptions, qz)
	}
	n := len(bm) + 2*qz
	dark := func(x, y int) bool {
		x, y = x-qz, y-qz
		return y >= 0 && y < len(bm) && x >= 0 && x < len(bm) && bm[y][x]
	}
	for y := 0; y < n; y += 2 {
		var b strings.Builder
		for x := 0; x < n; x++ {
			top, bottom := dark(x, y), dark(x, y+1)
			if !opts.DarkOnLight {
				top, bottom = !top, !bottom
			}
			if y+1 >= n {
				bottom = false // padding below the last row stays blank
			}
			switch {
			case top && bottom:
				b.WriteString("█")
			case top:
				b.WriteString("▀")
			case bottom:
				b.WriteString("▄")
			default:
				b.WriteByte(' ')
			}
		}
		b.WriteByte('\n')
		lines = append(lines, b.String())
	}
	return lines, nil
}

// HalfBlockSize returns the columns and rows RenderHalfBlocks uses for content.
func HalfBlockSize(content string, opts TermOptions) (cols, rows int, err error) {
	lines, err := halfBlocks(content, opts)
	if err != nil {
		return 0, 0, err
	}
	return len([]rune(strings.TrimSuffix(lines[0], "\n"))), len(lines), nil
}

// RenderHalfBlocks writes content as a QR code drawn with the Unicode half
// blocks ▀ ▄ █ and spaces, two modules a character cell, with a quiet zone.
func RenderHalfBlocks(w io.Writer, content string, opts TermOptions) error {
	lines, err := halfBlocks(content, opts)
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, strings.Join(lines, ""))
	return err
}

// Terminal control sequences used by Animate.
const (
	escHome       = "\x1b[H"
	escClear      = "\x1b[2J"
	escHideCursor = "\x1b[?25l"
	escShowCursor = "\x1b[?25h"
	escClearLine  = "\x1b[K"
)

// Animate shows frames one after another at fps frames a second, each drawn
// over the last from the top-left corner, with a "frame i/n" line below,
// until ctx is done; it then returns nil. All frames are drawn at the version
// of the largest so the picture keeps its size. It refuses, with
// ErrTerminalTooSmall naming the size needed, a terminal of termCols by
// termRows cells that cannot hold them.
func Animate(ctx context.Context, w io.Writer, frames []string, fps float64, termCols, termRows int, opts TermOptions) error {
	if len(frames) == 0 {
		return ErrNoFrames
	}
	if !(fps > 0 && fps <= 100) {
		return fmt.Errorf("%w: fps %v", ErrOptions, fps)
	}
	if opts.Version == 0 {
		for _, f := range frames {
			v, err := Version(f, opts.Level)
			if err != nil {
				return err
			}
			opts.Version = max(opts.Version, v)
		}
	}
	rendered := make([]string, len(frames))
	cols, rows := 0, 0
	for i, f := range frames {
		lines, err := halfBlocks(f, opts)
		if err != nil {
			return err
		}
		rendered[i] = strings.Join(lines, "")
		cols = max(cols, len([]rune(strings.TrimSuffix(lines[0], "\n"))))
		rows = max(rows, len(lines)+1) // and the status line
	}
	if cols > termCols || rows > termRows {
		return fmt.Errorf("%w: need %dx%d (columns x rows), have %dx%d", ErrTerminalTooSmall, cols, rows, termCols, termRows)
	}
	if _, err := io.WriteString(w, escHideCursor+escClear); err != nil {
		return err
	}
	ticker := time.NewTicker(time.Duration(float64(time.Second) / fps))
	defer ticker.Stop()
	for i := 0; ; i = (i + 1) % len(rendered) {
		status := fmt.Sprintf("frame %d/%d%s", i+1, len(rendered), escClearLine)
		if _, err := io.WriteString(w, escHome+rendered[i]+status); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			_, err := io.WriteString(w, "\n"+escShowCursor)
			return err
		case <-ticker.C:
		}
	}
}
