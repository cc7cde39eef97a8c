package keys

import (
	"fmt"
	"runtime"
)

// Redacted is what every secret type prints, whatever the verb.
const Redacted = "[REDACTED]"

// redacted is embedded in secret types so that fmt never prints their
// fields: %v, %+v, %#v, %s, %x and %q all give [REDACTED].
type redacted struct{}

func (redacted) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(Redacted)) }
func (redacted) String() string             { return Redacted }
func (redacted) GoString() string           { return Redacted }

// wipe overwrites b with zeros. Go gives no guarantee that no other copy
// exists; this clears the copy we hold.
//
//go:noinline
func wipe(b []byte) {
	for i := range b {
		b[i] = 0
	}
	runtime.KeepAlive(b)
}
