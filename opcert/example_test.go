package opcert_test

import (
	"bytes"
	"fmt"

	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/opcert"
)

// An op cert certifies a KES key from a start period for the network's
// maxKESEvolutions periods; the counter rules pick its number from the
// chain's.
func ExampleIssue() {
	cold, _ := keys.NewColdKey(bytes.Repeat([]byte{7}, 32))
	defer cold.Wipe()
	kes, _ := keys.NewKESKey(bytes.Repeat([]byte{9}, 32))
	defer kes.Wipe()

	next, _ := opcert.NextCounter(opcert.Recorded(4), opcert.History{Issued: true, MaxIssued: 4, LastIssued: 4})
	c := opcert.Issue(cold, kes.Public(), next, 1361)
	w := c.Window(opcert.Mainnet)
	fmt.Println("counter", c.Counter, "valid in periods", w.Start, "to", w.End-1)
	fmt.Println("expires", c.Expiry(opcert.Mainnet).UTC().Format("2006-01-02T15:04:05Z"))
	fmt.Println("signature ok:", c.CheckSignature() == nil)
	// Output:
	// counter 5 valid in periods 1361 to 1422
	// expires 2026-04-12T09:44:51Z
	// signature ok: true
}
