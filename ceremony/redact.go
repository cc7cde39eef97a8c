package ceremony

import (
	"fmt"

	"github.com/kesrotate/kesrotate/keys"
)

// The options and state below carry passphrases and key files: they print
// as [REDACTED] for every verb, like the key types they hold.

func (Encryption) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(keys.Redacted)) }
func (Encryption) String() string             { return keys.Redacted }
func (Encryption) GoString() string           { return keys.Redacted }

func (ImportOptions) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(keys.Redacted)) }
func (ImportOptions) String() string             { return keys.Redacted }
func (ImportOptions) GoString() string           { return keys.Redacted }

func (secretState) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(keys.Redacted)) }
func (secretState) String() string             { return keys.Redacted }
func (secretState) GoString() string           { return keys.Redacted }
