// Package transfer defines what crosses the air gap and how: the
// producer's enrollment and signed chain snapshots (producer → cold), the
// age-encrypted hot bundle (cold → producer), and their QR frames.
//
// Every structure is a CBOR array whose first two elements are a magic
// string and a version, encoded deterministically, so that a file has one
// encoding and one hash and cannot be mistaken for another kind.
package transfer

import (
	"bytes"
	"fmt"

	"github.com/blinklabs-io/gouroboros/cbor"
)

// Magic strings: the first element of each structure.
const (
	MagicEnrollment = "kesrotate-enrollment"
	MagicSnapshot   = "kesrotate-snapshot"
	MagicBundle     = "kesrotate-bundle"
	Version         = 1
)

// MaxFileSize bounds every transfer file we read.
const MaxFileSize = 64 << 10

func encode(v any) []byte {
	b, err := cbor.Encode(v)
	if err != nil {
		panic("transfer: encoding a fixed structure cannot fail: " + err.Error())
	}
	return b
}

// decode reads exactly one canonical value into v.
func decode(what string, data []byte, v any) error {
	if len(data) > MaxFileSize {
		return fmt.Errorf("%w: %s of %d bytes exceeds %d", ErrFormat, what, len(data), MaxFileSize)
	}
	n, err := cbor.Decode(data, v)
	if err != nil {
		// The decoder's message names Go types: not for an operator.
		return fmt.Errorf("%w: %s is damaged or of another kind", ErrFormat, what)
	}
	if n != len(data) {
		return fmt.Errorf("%w: %s has %d trailing bytes", ErrFormat, what, len(data)-n)
	}
	if !bytes.Equal(encode(v), data) {
		return fmt.Errorf("%w: %s is not in canonical form", ErrFormat, what)
	}
	return nil
}

// decodeSigned reads the [body, signature] wrapper of a signed transfer
// file whose body must carry magic: a file of another kind is named as
// such before any signature is checked, so it is never taken for a
// tampered one.
func decodeSigned(what, magic string, data []byte) (wireSigned, error) {
	var sw wireSigned
	if len(data) > MaxFileSize {
		return sw, fmt.Errorf("%w: %s of %d bytes exceeds %d", ErrFormat, what, len(data), MaxFileSize)
	}
	if m := magicOf(data); m != magic {
		return sw, notA(what, data)
	}
	if err := decode(what, data, &sw); err != nil {
		return sw, err
	}
	return sw, nil
}

func checkHead(what, magic string, version uint64, wantMagic string) error {
	if magic != wantMagic {
		return fmt.Errorf("%w: not a %s (magic %q)", ErrFormat, what, magic)
	}
	if version != Version {
		return fmt.Errorf("%w: %s version %d, this binary reads version %d", ErrFormat, what, version, Version)
	}
	return nil
}

func fixed(what string, b []byte, n int) error {
	if len(b) != n {
		return fmt.Errorf("%w: %s has %d bytes, want %d", ErrFormat, what, len(b), n)
	}
	return nil
}

// signedMessage is what a producer key signs: a domain string, a NUL and
// the body, so a signature over one kind can never pass for another (nor
// for a 48-byte op-cert signable).
func signedMessage(domain string, body []byte) []byte {
	return append([]byte(domain+"\x00"), body...)
}
