package auditlog

import (
	"fmt"
	"io"
)

// ed25519Signer holds a raw private key (NewEd25519Signer returns it as a
// note.Signer): it prints as [REDACTED] for every verb.

func (ed25519Signer) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, "[REDACTED]") }
func (ed25519Signer) String() string             { return "[REDACTED]" }
func (ed25519Signer) GoString() string           { return "[REDACTED]" }
