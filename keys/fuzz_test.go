package keys

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/kesrotate/kesrotate/internal/vectors"
)

func seedFromVectors(f *testing.F, dirs ...string) {
	root := vectors.Dir(f)
	for _, d := range dirs {
		entries, _ := os.ReadDir(filepath.Join(root, d))
		for _, e := range entries {
			if b, err := os.ReadFile(filepath.Join(root, d, e.Name())); err == nil && len(b) < 4096 {
				f.Add(b)
			}
		}
	}
}

// FuzzEnvelope: every reader of a TextEnvelope either errors or returns a
// value that writes back to an envelope it reads again identically.
func FuzzEnvelope(f *testing.F) {
	seedFromVectors(f, "cardano-cli", "dingo-devnet")
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseEnvelope(data)
		if err != nil {
			return
		}
		e2, err := ParseEnvelope(e.Marshal())
		if err != nil {
			t.Fatalf("re-reading our own envelope: %v", err)
		}
		if e2.Type != e.Type || e2.Description != e.Description || !bytes.Equal(e2.CBOR, e.CBOR) {
			t.Fatal("envelope changed on round trip")
		}
		if k, err := ParseColdKey(data); err == nil {
			if k2, err := ParseColdKey(k.MarshalEnvelope()); err != nil || k2.Public() != k.Public() {
				t.Fatalf("cold key round trip: %v", err)
			}
		}
		if k, err := ParseKESKey(data); err == nil {
			if k2, err := ParseKESKey(k.MarshalEnvelope()); err != nil || k2.Public() != k.Public() {
				t.Fatalf("KES key round trip: %v", err)
			}
		}
		if k, err := ParseVRFKey(data); err == nil {
			if k2, err := ParseVRFKey(k.MarshalEnvelope()); err != nil || k2.Public() != k.Public() {
				t.Fatalf("VRF key round trip: %v", err)
			}
		}
		_, _ = ParseColdVKey(data)
		_, _ = ParseVRFVKey(data)
		_, _ = ParseKESVKey(data)
	})
}

// FuzzCounter: a counter that parses writes back to the same value.
func FuzzCounter(f *testing.F) {
	seedFromVectors(f, "cardano-cli")
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCounter(data)
		if err != nil {
			return
		}
		c2, err := ParseCounter(c.MarshalEnvelope())
		if err != nil || c2 != c {
			t.Fatalf("counter round trip: got %+v, %v; want %+v", c2, err, c)
		}
	})
}

// FuzzHWSigningFile: a signing file either errors or reads back the same
// from what Marshal writes, with a pool cold key path and a usable key.
func FuzzHWSigningFile(f *testing.F) {
	f.Add([]byte(realHWSigningFile))
	f.Add([]byte(currentHWSigningFile))
	seedFromVectors(f, "cardano-cli")
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ParseHWSigningFile(data)
		if err != nil {
			return
		}
		if _, err := ParseHWPath(h.PathString()); err != nil {
			t.Fatalf("accepted path %s: %v", h.PathString(), err)
		}
		h2, err := ParseHWSigningFile(h.Marshal())
		if err != nil {
			t.Fatalf("re-reading our own signing file: %v", err)
		}
		if h2.PathString() != h.PathString() || h2.XPub != h.XPub {
			t.Fatal("signing file changed on round trip")
		}
		vk := h.ColdVKey()
		if err := CheckEd25519PublicKey(vk[:]); err != nil {
			t.Fatalf("accepted an unusable key: %v", err)
		}
	})
}
