// Package textsafe keeps text that came from outside (a file someone
// handed over, a producer's snapshot) from doing harm on its way to a
// screen, a log or an error: errors that describe without quoting, and
// escaping of characters that change what a terminal shows (control
// characters, bidirectional overrides, zero-width marks).
package textsafe

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// JSONError describes a JSON decoding error without any of the input's
// bytes. encoding/json quotes numbers it could not store ("cannot
// unmarshal number 86193847561 into …") and time.Time quotes the text it
// could not parse: given a secret file by mistake, a reader must not print
// part of it.
func JSONError(err error) error {
	if err == nil {
		return nil
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tp *time.ParseError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("not valid JSON (at byte %d)", syn.Offset)
	case errors.As(err, &typ):
		kind, _, _ := strings.Cut(typ.Value, " ") // "number 123" → "number"
		if typ.Field != "" {
			return fmt.Errorf("a JSON %s where field %q needs a %s", kind, Escape(typ.Field), typ.Type.Kind())
		}
		return fmt.Errorf("a JSON %s where a %s was expected", kind, typ.Type.Kind())
	case errors.As(err, &tp):
		return errors.New("a time that is not in RFC 3339 form")
	case errors.Is(err, io.EOF):
		return errors.New("empty, not JSON")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("JSON that ends early")
	}
	return errors.New("not valid JSON")
}

// Suspicious reports whether r would change how a line reads on a
// terminal or in an editor: a control character (C0, C1, DEL) or a format
// character (bidirectional overrides and isolates, zero-width joiners,
// the byte order mark).
func Suspicious(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError
}

// Clean reports whether s is valid UTF-8 without Suspicious characters.
func Clean(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if Suspicious(r) {
			return false
		}
	}
	return true
}

// Escape returns s with every Suspicious character (and invalid UTF-8)
// written as a Go escape (\u202e, \x1b), so that what is shown is what is
// there. Clean text is returned unchanged.
func Escape(s string) string {
	if Clean(s) {
		return s
	}
	var b strings.Builder
	for i, w := 0, 0; i < len(s); i += w {
		r, n := utf8.DecodeRuneInString(s[i:])
		w = n
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case Suspicious(r):
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+n])
		}
	}
	return b.String()
}

// Clip is Escape(s) cut to at most n bytes on a character boundary, with
// "…" when it was cut: text from a file or another program, made safe and
// short enough for an error line or a log detail.
func Clip(s string, n int) string {
	return Cut(Escape(s), n)
}

// Cut shortens s to at most n bytes without splitting a character, with
// "…" when it was cut. It escapes nothing: it is for text printed with %q,
// which escapes by itself (Clip would escape twice).
func Cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// AgeError describes an error of filippo.io/age's Decrypt without its
// text: age quotes the first line of a file that is not an age file
// ("unexpected intro: …"), which for a key file given by mistake is the
// key.
func AgeError(err error) error {
	if err == nil {
		return nil
	}
	if strings.Contains(err.Error(), "header") {
		return errors.New("not an age file, or its header is damaged")
	}
	return errors.New("its encrypted content is damaged or cut short")
}
