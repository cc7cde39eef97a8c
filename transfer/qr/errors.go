package qr

import "errors"

var (
	// ErrNotFound reports an image in which no QR code could be read.
	ErrNotFound = errors.New("qr: no qr code found")
	// ErrImage reports input that is not a PNG or JPEG image.
	ErrImage = errors.New("qr: cannot read image")
	// ErrTooLong reports content that does not fit the largest QR version (or
	// the forced version) at the chosen error-correction level.
	ErrTooLong = errors.New("qr: content too long")
	// ErrOptions reports an invalid option value.
	ErrOptions = errors.New("qr: invalid options")
	// ErrTerminalTooSmall reports a terminal too small for the frames; the
	// message names the size needed.
	ErrTerminalTooSmall = errors.New("qr: terminal too small")
	// ErrNoFrames reports an empty frame list.
	ErrNoFrames = errors.New("qr: no frames")
)
