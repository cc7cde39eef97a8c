package producer

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcutil/bech32"
)

func bech(t *testing.T, hrp string, data []byte) string {
	t.Helper()
	conv, err := bech32.ConvertBits(data, 8, 5, true)
	if err != nil {
		t.Fatal(err)
	}
	s, err := bech32.Encode(hrp, conv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// p256Key is a compressed P-256 public key, as age1tag1 and age1yubikey1
// recipients carry.
func p256Key(t *testing.T) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return elliptic.MarshalCompressed(elliptic.P256(), k.X, k.Y)
}

func TestPluginIdentity(t *testing.T) {
	key, other := p256Key(t), p256Key(t)
	recipient := bech(t, "age1tag", key)
	id := strings.ToUpper(bech(t, "age-plugin-yubikey-", []byte{1, 2, 3, 4, 5, 6, 7, 8, 9}))
	id2 := strings.ToUpper(bech(t, "age-plugin-yubikey-", []byte{9, 8, 7, 6, 5, 4, 3, 2, 1}))
	// As age-plugin-yubikey --identity writes it.
	yubikey := func(rcpt, ids string) string {
		return "#       Serial: 12345678, Slot: 1\n#         Name: age identity 1a2b3c4d\n#    Recipient: " + rcpt + "\n" + ids + "\n"
	}
	tests := []struct {
		name string
		file string
		want string // the identity, or the error's text
	}{
		{"its recipient", yubikey(bech(t, "age1yubikey", key), id), id},
		{"no recipient comment", id + "\n", id},
		{"another recipient", yubikey(bech(t, "age1yubikey", other), id), "not " + recipient},
		{"none", "# nothing here\n", "holds no AGE-PLUGIN-"},
		// The CLI took the last one.
		{"several", yubikey(bech(t, "age1yubikey", key), id+"\n"+id2), "holds 2 AGE-PLUGIN-"},
		{"not Bech32", "AGE-PLUGIN-YUBIKEY-1NOTBECH32\n", "not an age plugin identity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := PluginIdentity([]byte(tt.file), recipient)
			if strings.HasPrefix(tt.want, "AGE-PLUGIN-") {
				if err != nil || got != tt.want {
					t.Errorf("got %q, %v, want %q", got, err, tt.want)
				}
				return
			}
			if !errors.Is(err, ErrHardwareIdentity) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %q, %v, want ErrHardwareIdentity with %q", got, err, tt.want)
			}
			if err != nil && (strings.Contains(err.Error(), "-1NOT") || strings.Contains(err.Error(), id[len("AGE-PLUGIN-"):])) {
				t.Errorf("the error %q shows part of an identity", err)
			}
		})
	}
}
