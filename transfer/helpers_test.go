package transfer

import "fmt"

func sprintf(format string, v any) string { return fmt.Sprintf(format, v) }

// testFingerprint is a well-formed producer fingerprint for bundles built
// in tests.
const testFingerprint = "ABCD-EFGH-IJKL-MNOP"
