package transfer

import (
	"fmt"

	"github.com/kesrotate/kesrotate/keys"
)

// wireBundle holds the KES and VRF signing key files in the clear (before
// encryption, after decryption): it prints as [REDACTED] for every verb.

func (wireBundle) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(keys.Redacted)) }
func (wireBundle) String() string             { return keys.Redacted }
func (wireBundle) GoString() string           { return keys.Redacted }

// wireBundleV2 likewise.

func (wireBundleV2) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(keys.Redacted)) }
func (wireBundleV2) String() string             { return keys.Redacted }
func (wireBundleV2) GoString() string           { return keys.Redacted }

func (wireBundleV3) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(keys.Redacted)) }
func (wireBundleV3) String() string             { return keys.Redacted }
func (wireBundleV3) GoString() string           { return keys.Redacted }
