package transfer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/blinklabs-io/gouroboros/cbor"

	"github.com/kesrotate/kesrotate/internal/textsafe"
)

// Kind describes what a file is, for a message when a command was given
// the wrong one: "a kesrotate enrollment (from 'kesrotate-agent
// enrollment')". It reads only the file's shape, trusts nothing in it and
// returns "" for a file it does not recognize.
func Kind(data []byte) string {
	switch {
	case bytes.HasPrefix(data, []byte("age-encryption.org/")):
		return "an age-encrypted file (a bundle from 'kesrotate rotate')"
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return "a PNG image (QR images go after --scan)"
	case bytes.HasPrefix(data, []byte("\xff\xd8\xff")):
		return "a JPEG image (QR images go after --scan)"
	case bytes.HasPrefix(bytes.ToLower(data), []byte("ur:")):
		return "the text of a QR frame (scan the images instead)"
	case bytes.HasPrefix(data, []byte("kesrotate.vault/")):
		return "a ceremony-log checkpoint note"
	}
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
		var env struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(t, &env) == nil && env.Type != "" {
			return "a cardano-cli " + textsafe.Clip(env.Type, 80) + " file"
		}
		return "a JSON file"
	}
	if m := magicOf(data); m != "" {
		switch m {
		case MagicEnrollment:
			return "a kesrotate enrollment (from 'kesrotate-agent enrollment')"
		case MagicSnapshot:
			return "a kesrotate snapshot (from 'kesrotate-agent snapshot')"
		case MagicReceipt:
			return "a kesrotate demotion receipt (from 'kesrotate-agent demote')"
		case MagicBundle:
			return "a decrypted kesrotate bundle"
		}
	}
	return ""
}

// magicOf is the magic string of a transfer structure, signed (the body
// of a [body, signature] pair) or not, without checking anything else.
func magicOf(data []byte) string {
	var arr []any
	if _, err := cbor.Decode(data, &arr); err != nil || len(arr) == 0 {
		return ""
	}
	if m, ok := arr[0].(string); ok && strings.HasPrefix(m, "kesrotate-") {
		return m
	}
	if body, ok := arr[0].([]byte); ok && len(arr) == 2 {
		var inner []any
		if _, err := cbor.Decode(body, &inner); err == nil && len(inner) > 0 {
			if m, ok := inner[0].(string); ok && strings.HasPrefix(m, "kesrotate-") {
				return m
			}
		}
	}
	return ""
}

// kindError is a file of another kind than asked for: ErrWrongKind and
// ErrFormat both.
type kindError struct{ msg string }

func (e *kindError) Error() string { return e.msg }

func (e *kindError) Is(target error) bool { return target == ErrWrongKind || target == ErrFormat }

// notA is the error for a file that is not the kind a reader wanted,
// naming what it is when that is known, never a decoder's internals.
func notA(what string, data []byte) error {
	switch k := Kind(data); {
	case k != "":
		return &kindError{fmt.Sprintf("%s: this is %s, not %s", ErrWrongKind, k, article(what))}
	case len(data) == 0:
		return fmt.Errorf("%w: the %s file is empty", ErrFormat, what)
	}
	return fmt.Errorf("%w: not %s: the file is damaged or of another kind", ErrFormat, article(what))
}

func article(what string) string {
	if strings.IndexByte("aeiou", what[0]) >= 0 {
		return "an " + what
	}
	return "a " + what
}

// CheckBundleFile refuses, by name, a file given as a bundle that is some
// other kesrotate or cardano-cli file: a bundle is an age file.
func CheckBundleFile(data []byte) error {
	if bytes.HasPrefix(data, []byte("age-encryption.org/")) {
		return nil
	}
	if Kind(data) != "" {
		return notA("bundle", data)
	}
	return nil // let age say what is wrong with it
}
