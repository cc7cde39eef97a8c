package auditlog

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestBindingMessage(t *testing.T) {
	var pool [PoolIDSize]byte
	for i := range pool {
		pool[i] = byte(i)
	}
	got := string(BindingMessage("00112233445566778899aabbccddeeff", pool, "kesrotate.vault/00112233445566778899aabbccddeeff+01020304+AQID"))
	want := "kesrotate audit-key binding v1\n00112233445566778899aabbccddeeff\n" + hex.EncodeToString(pool[:]) +
		"\nkesrotate.vault/00112233445566778899aabbccddeeff+01020304+AQID\n"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	// Never a 48-byte op-cert signable (kes_vk ‖ u64 n ‖ u64 period),
	// whatever the inputs, even empty ones.
	for i, in := range []struct{ id, key string }{{"", ""}, {"x", "y"}, {strings.Repeat("a", 32), strings.Repeat("k", 100)}} {
		m := BindingMessage(in.id, [PoolIDSize]byte{}, in.key)
		if len(m) == 48 {
			t.Errorf("case %d: got a 48-byte message", i)
		}
		if len(m) <= 48 {
			t.Errorf("case %d: got %d bytes, want more than 48", i, len(m))
		}
		if !bytes.HasPrefix(m, []byte(BindingPrefix)) {
			t.Errorf("case %d: message does not start with the prefix", i)
		}
	}
	for _, c := range []byte(BindingPrefix) {
		if c > 0x7e || (c < 0x20 && c != '\n') {
			t.Fatalf("prefix byte %#x is not printable ASCII", c)
		}
	}
}

func TestBindVerify(t *testing.T) {
	r := rng(5)
	id, _ := NewVaultID(r)
	_, vkey, err := GenerateKey(r, id)
	if err != nil {
		t.Fatal(err)
	}
	cold := coldKey(5)
	b, err := Bind(cold, id, vkey)
	if err != nil {
		t.Fatal(err)
	}
	vk := cold.Public().(ed25519.PublicKey)
	if err := VerifyBinding(b, vk); err != nil {
		t.Fatalf("VerifyBinding: %v", err)
	}
	if pool, _ := b.Pool(); pool != poolHex(cold) {
		t.Errorf("got pool %s, want %s", pool, poolHex(cold))
	}
	other := coldKey(6).Public().(ed25519.PublicKey)
	_, vkey2, _ := GenerateKey(rng(9), id)
	tests := []struct {
		name string
		b    Binding
		vk   ed25519.PublicKey
	}{
		{"other cold key", b, other},
		{"audit key swapped", func() Binding { c := b; c.AuditKey = vkey2; return c }(), vk},
		{"vault swapped", func() Binding { c := b; c.VaultID = strings.Repeat("0", 32); return c }(), nil},
		{"signature flipped", func() Binding { c := b; s := []byte(c.Signature); s[0] ^= 1; c.Signature = string(s); return c }(), nil},
		{"cold vkey not hex", func() Binding { c := b; c.ColdVKey = "zz"; return c }(), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := VerifyBinding(tt.b, tt.vk); !errors.Is(err, ErrBinding) {
				t.Errorf("got %v, want ErrBinding", err)
			}
		})
	}
	if _, err := Bind(cold, id, "not a key"); err == nil {
		t.Error("Bind with a bad audit key: got nil, want an error")
	}
	if _, err := Bind(cold, strings.Repeat("1", 32), vkey); err == nil {
		t.Error("Bind with another vault's id: got nil, want an error")
	}
}

func TestAppendRefusesBadBinding(t *testing.T) {
	f := newVault(t, t.TempDir()+"/log", 4)
	b, err := Bind(f.cold, f.vaultID, f.vkey)
	if err != nil {
		t.Fatal(err)
	}
	e, _ := b.Entry()
	be := base(KindAuditBinding, 1)
	e.Time, e.BinarySHA256, e.Version = be.Time, be.BinarySHA256, be.Version
	bad := e
	bb := *e.Binding
	bb.Signature = strings.Repeat("00", 64)
	bad.Binding = &bb
	if _, _, err := f.log.Append(bad); !errors.Is(err, ErrBinding) {
		t.Errorf("bad signature: got %v, want ErrBinding", err)
	}
	wrongPool := e
	wrongPool.Pool = poolHex(coldKey(8))
	if _, _, err := f.log.Append(wrongPool); !errors.Is(err, ErrBinding) {
		t.Errorf("wrong pool: got %v, want ErrBinding", err)
	}
	if _, _, err := f.log.Append(base(KindInit, 1)); !errors.Is(err, ErrInvalidEntry) {
		t.Errorf("second init: got %v, want ErrInvalidEntry", err)
	}
	if _, _, err := f.log.Append(e); err != nil {
		t.Errorf("good binding: got %v, want nil", err)
	}
}

func TestSignerKeyRedacted(t *testing.T) {
	k, _, err := GenerateKey(rng(1), strings.Repeat("ab", 16))
	if err != nil {
		t.Fatal(err)
	}
	holder := struct{ K SignerKey }{k}
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		for _, v := range []any{k, holder, &holder} {
			got := fmt.Sprintf(format, v)
			if strings.Contains(got, "PRIVATE") || !strings.Contains(got, "[REDACTED]") {
				t.Errorf("%s of %T: got %q, want [REDACTED]", format, v, got)
			}
		}
	}
}

func TestSignerKeyFile(t *testing.T) {
	k, vkey, err := GenerateKey(rng(1), strings.Repeat("ab", 16))
	if err != nil {
		t.Fatal(err)
	}
	p := t.TempDir() + "/audit.skey"
	if err := WriteSignerKey(p, k); err != nil {
		t.Fatal(err)
	}
	if fi, err := statMode(p); err != nil || fi != 0o600 {
		t.Errorf("got mode %o (%v), want 600", fi, err)
	}
	if err := WriteSignerKey(p, k); !errors.Is(err, ErrExists) {
		t.Errorf("second write: got %v, want ErrExists", err)
	}
	k2, err := ReadSignerKey(p)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := k2.VerifierKey(); err != nil || v != vkey {
		t.Errorf("got verifier %q (%v), want %q", v, err, vkey)
	}
	for _, bad := range []string{"", "PRIVATE+KEY+x+00000000+AA==", strings.Replace(k.text, "kesrotate.vault", "other.vault", 1)} {
		if _, err := ParseSignerKey(bad); err == nil {
			t.Errorf("ParseSignerKey(%d bytes): got nil, want an error", len(bad))
		}
	}
}
