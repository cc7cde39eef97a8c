package auditlog

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/opcert"
)

// seenCert is the cert the fixture's cert() made under certName, made
// again, as an auditor finds it on a producer.
func seenCert(t *testing.T, cold *keys.ColdKey, certName string, n, period uint64) SeenCert {
	t.Helper()
	var vk keys.KESVKey
	kes := sha256.Sum256([]byte("kes" + certName))
	copy(vk[:], kes[:])
	return SeenCert{Name: certName + ".cert", Cert: opcert.Issue(cold, vk, n, period)}
}

func TestCertsSeenInTheField(t *testing.T) {
	f := standard(t, 1)
	cold := coldOfPool(f.pool)
	other, err := keys.NewColdKey(coldKey(9).Seed())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cert SeenCert
		want error
	}{
		{"issued in the log", seenCert(t, cold, "c0", 0, 100), nil},
		{"same pool, never issued", seenCert(t, cold, "c0", 0, 101), ErrNotInLog},
		{"another vault's pool", seenCert(t, other, "c0", 0, 100), ErrForeignCert},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := f.opts()
			opts.Certs = []SeenCert{tc.cert}
			_, err := Verify(f.dir, opts)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if tc.want == ErrNotInLog {
				var ae *Error
				if !errors.As(err, &ae) || ae.Seq != NoSeq {
					t.Errorf("got %#v, want an *Error without an entry", err)
				}
			}
		})
	}
}

func TestCountersigners(t *testing.T) {
	f := standard(t, 2)
	held := f.log.Checkpoint().Note
	pub, priv, err := ed25519.GenerateKey(rng(7))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := NewEd25519Signer("producer-a", priv)
	if err != nil {
		t.Fatal(err)
	}
	vkey, err := note.NewEd25519VerifierKey("producer-a", pub)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	audit, err := note.NewVerifier(f.vkey)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(held, note.VerifierList(audit))
	if err != nil {
		t.Fatal(err)
	}
	countersigned, err := note.Sign(n, signer)
	if err != nil {
		t.Fatal(err)
	}

	opts := f.opts()
	opts.Countersigners = []note.Verifier{verifier}
	opts.Checkpoints = [][]byte{countersigned}
	r, err := Verify(f.dir, opts)
	if err != nil {
		t.Fatalf("a countersigned checkpoint: %v", err)
	}
	last := r.Checkpoints[len(r.Checkpoints)-1]
	if !last.Outside || last.File != "extra[0]" || len(last.Signers) != 2 || r.Checkpoints[0].Outside {
		t.Errorf("checkpoints: got %+v, want only extra[0] held outside, with two signers", r.Checkpoints)
	}
	opts.Checkpoints = [][]byte{countersigned, held}
	_, err = Verify(f.dir, opts)
	var ae *Error
	if !errors.Is(err, ErrBadSignature) || !errors.As(err, &ae) || ae.File != "extra[1]" {
		t.Fatalf("a checkpoint without the countersignature: got %v, want ErrBadSignature in extra[1]", err)
	}
}
