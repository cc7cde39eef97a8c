package transfer

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"testing"

	"filippo.io/age"
	"filippo.io/age/tag"
	"filippo.io/hpke"
	"filippo.io/nistec"
)

// tagIdentity stands in for the hardware: it holds the P-256 private key
// and opens p256tag stanzas the way a plugin would.
type tagIdentity struct {
	priv *ecdh.PrivateKey
}

func (i tagIdentity) Unwrap(stanzas []*age.Stanza) ([]byte, error) {
	for _, s := range stanzas {
		if s.Type != "p256tag" || len(s.Args) != 2 {
			continue
		}
		enc, err := base64.RawStdEncoding.DecodeString(s.Args[1])
		if err != nil {
			return nil, err
		}
		k, err := hpke.DHKEM(ecdh.P256()).NewPrivateKey(i.priv.Bytes())
		if err != nil {
			return nil, err
		}
		r, err := hpke.NewRecipient(enc, k, hpke.HKDFSHA256(), hpke.ChaCha20Poly1305(), []byte("age-encryption.org/p256tag"))
		if err != nil {
			return nil, err
		}
		return r.Open(nil, s.Body)
	}
	return nil, age.ErrIncorrectIdentity
}

func newTagKey(t *testing.T) (*ecdh.PrivateKey, string) {
	t.Helper()
	priv, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p, err := nistec.NewP256Point().SetBytes(priv.PublicKey().Bytes())
	if err != nil {
		t.Fatal(err)
	}
	ref, err := tag.NewClassicRecipient(p.BytesCompressed())
	if err != nil {
		t.Fatal(err)
	}
	return priv, ref.String()
}

// TestTagRecipientMatchesAge checks our age1tag1 recipient against
// filippo.io/age/tag: the same string, the same tag for the same
// ephemeral key, and files each side encrypts open with the same identity.
func TestTagRecipientMatchesAge(t *testing.T) {
	priv, s := newTagKey(t)
	ours, err := ParseTagRecipient(s)
	if err != nil {
		t.Fatal(err)
	}
	if ours.String() != s {
		t.Errorf("String: got %s, want %s", ours.String(), s)
	}
	ref, err := tag.ParseRecipient(s)
	if err != nil {
		t.Fatal(err)
	}
	stanzas, err := ours.Wrap(bytes.Repeat([]byte{7}, 16))
	if err != nil || len(stanzas) != 1 {
		t.Fatalf("Wrap: %v", err)
	}
	enc, _ := base64.RawStdEncoding.DecodeString(stanzas[0].Args[1])
	wantTag, err := ref.Tag(enc)
	if err != nil {
		t.Fatal(err)
	}
	if got := stanzas[0].Args[0]; got != base64.RawStdEncoding.EncodeToString(wantTag) {
		t.Errorf("tag: got %s, want %s", got, base64.RawStdEncoding.EncodeToString(wantTag))
	}
	id := tagIdentity{priv}
	for name, r := range map[string]age.Recipient{"ours": ours, "filippo.io/age/tag": ref} {
		var buf bytes.Buffer
		w, err := age.Encrypt(&buf, r)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write([]byte("bundle"))
		_ = w.Close()
		pr, err := age.Decrypt(&buf, id)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, _ := io.ReadAll(pr)
		if string(got) != "bundle" {
			t.Errorf("%s: got %q", name, got)
		}
	}
	last := "q"
	if strings.HasSuffix(s, "q") {
		last = "p"
	}
	for _, bad := range []string{"age1tag1", "age1qqqq", s[:len(s)-1] + last} {
		if _, err := ParseAnyRecipient(bad); !errors.Is(err, ErrRecipient) {
			t.Errorf("ParseAnyRecipient(%q): got %v, want ErrRecipient", bad, err)
		}
	}
}

// TestBundleToHardwareRecipient: an enrollment may name a hardware
// recipient, and the bundle sealed to it opens with the hardware key.
func TestBundleToHardwareRecipient(t *testing.T) {
	priv, s := newTagKey(t)
	f := newFixture(t)
	f.enroll.Recipient = s
	data, err := f.enroll.Marshal(f.signKey)
	if err != nil {
		t.Fatal(err)
	}
	e, err := ParseEnrollment(data)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseAnyRecipient(e.Recipient)
	if err != nil {
		t.Fatal(err)
	}
	b := &Bundle{Magic: 1, PoolID: f.cold.Public().PoolID(), Cold: f.cold.Public(), Cert: f.cert, KES: f.kes, Producer: testFingerprint, Created: t0}
	var buf bytes.Buffer
	if err := b.Encrypt(&buf, r); err != nil {
		t.Fatal(err)
	}
	got, err := DecryptBundle(&buf, tagIdentity{priv})
	if err != nil {
		t.Fatal(err)
	}
	if *got.Cert != *f.cert {
		t.Error("cert differs")
	}
}
