package transfer_test

import (
	"fmt"

	"github.com/kesrotate/kesrotate/transfer"
)

// A fingerprint typed from the producer's screen, as people misread it.
func ExampleNormalizeFingerprint() {
	fp, err := transfer.NormalizeFingerprint("rq4v edxq ynkj 7suy")
	fmt.Println(fp, err)
	fp, err = transfer.NormalizeFingerprint("0I8Z-ABCD-EFGH-2345") // 0, 1 and 8 are not base32
	fmt.Println(fp, err)
	// Output:
	// RQ4V-EDXQ-YNKJ-7SUY <nil>
	// OIBZ-ABCD-EFGH-2345 <nil>
}

// A file given where another kind was wanted is named, not called damaged.
func ExampleKind() {
	fmt.Println(transfer.Kind([]byte(`{"type": "NodeOperationalCertificate", "cborHex": "82"}`)))
	fmt.Println(transfer.Kind([]byte("age-encryption.org/v1\n")))
	// Output:
	// a cardano-cli NodeOperationalCertificate file
	// an age-encrypted file (a bundle from 'kesrotate rotate')
}
