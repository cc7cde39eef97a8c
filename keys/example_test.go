package keys_test

import (
	"bytes"
	"fmt"

	"github.com/kesrotate/kesrotate/keys"
)

// A cold key's pool id is the blake2b-224 hash of its verification key;
// the envelope is the cardano-cli file.
func ExampleNewColdKey() {
	cold, err := keys.NewColdKey(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		panic(err)
	}
	defer cold.Wipe()
	vk := cold.Public()
	fmt.Println(vk.PoolID().Bech32())
	fmt.Println(cold) // secrets never print
	// Output:
	// pool13vscgf9dwn0jt56u965wp99ychz6avktk3pyrye326f3xctz4nm
	// [REDACTED]
}
