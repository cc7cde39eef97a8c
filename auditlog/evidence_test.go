package auditlog

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/opcert"
)

// forgedCert is what someone with the audit key but not the cold key can
// write: a cert-issued entry whose cert carries the pool's cold vkey and a
// signature that is not the cold key's (or no cert at all).
func forgedCert(f *fixture, n uint64, onchain *uint64, period uint64, withCert bool) Entry {
	e := cert(f.pool, n, onchain, period, "forged")
	if !withCert {
		e.Cert = ""
		return e
	}
	var cold keys.ColdVKey
	copy(cold[:], f.coldVKey())
	var kes keys.KESVKey
	kesBytes, _ := hex.DecodeString(e.KESVKeyHash)
	copy(kes[:], kesBytes)
	c := &opcert.Certificate{KESVKey: kes, Counter: n, KESPeriod: period, Cold: cold}
	b, _ := c.MarshalCBOR()
	e.Cert, e.CertHash, e.KESVKeyHash = hex.EncodeToString(b), c.Hash(), KESVKeyHash(kes[:])
	return e
}

// In log format 2 a cert-issued entry carries the cert the pool's cold key
// signed: the audit key alone cannot make one that verifies.
func TestCertIssuedEntriesNeedTheColdKey(t *testing.T) {
	for _, tc := range []struct {
		name     string
		withCert bool
	}{{"no cert", false}, {"cert not signed by the cold key", true}} {
		t.Run(tc.name, func(t *testing.T) {
			f := standard(t, 1)
			e := forgedCert(f, 2, U64(1), 140, tc.withCert)
			if err := f.log.Check(e); !errors.Is(err, ErrForged) {
				t.Errorf("Check: got %v, want ErrForged", err)
			}
			f.appendT(t, e) // Append records what happened; Verify judges
			_, err := Verify(f.dir, f.opts())
			wantSeq(t, wantErr(t, err, ErrForged), 8)
		})
	}
	f := standard(t, 1)
	r, err := Verify(f.dir, f.opts())
	if err != nil {
		t.Fatal(err)
	}
	if r.Format != LogFormat || len(r.Certs) != 2 || !r.Certs[0].ColdSigned || !r.Certs[1].ColdSigned {
		t.Errorf("got format %q, certs %+v; want format 2 and two cold-signed certs", r.Format, r.Certs)
	}
}

// A forged entry with a high KES period must not stop a rotation whose
// cert the cold key signs: the rules a command checks before it acts come
// from cold-signed certs only. Verify still names the forged entry.
func TestForgedEntriesDoNotBlockGenuineRotations(t *testing.T) {
	for _, format := range []string{"2", "1"} {
		t.Run("format "+format, func(t *testing.T) {
			var f *fixture
			if format == "2" {
				f = standard(t, 1)
			} else {
				f = legacyStandard(t, 1)
			}
			f.appendT(t, forgedCert(f, 2, U64(1), 99999, false))
			l, err := Open(f.dir, f.key) // as the next command does
			if err != nil {
				t.Fatal(err)
			}
			genuine := cert(f.pool, 2, U64(1), 140, "c2")
			if err := l.Check(genuine); err != nil {
				t.Errorf("genuine rotation after a forged entry: got %v, want nil", err)
			}
			if _, _, err := l.Append(genuine); err != nil {
				t.Fatal(err)
			}
			_, err = Verify(f.dir, f.opts())
			if format == "2" {
				wantSeq(t, wantErr(t, err, ErrForged), 8)
			} else if err == nil {
				t.Error("format 1: got nil, want the period going back to be reported")
			}
		})
	}
}

// A cert issued under an override (a clock ignored, a stale snapshot) does
// not move the KES period forward for the rule that periods never go back:
// it cannot block the normal rotations after it.
func TestOverrideCertsDoNotBlockLaterRotations(t *testing.T) {
	f := standard(t, 1)
	future := cert(f.pool, 2, U64(1), 134, "future")
	future.Detail = map[string]string{DetailOverrides: "ignore_clock"}
	if err := f.log.Check(future); err != nil {
		t.Fatal(err)
	}
	f.appendT(t, future)
	normal := cert(f.pool, 2, U64(1), 131, "normal")
	if err := f.log.Check(normal); err != nil {
		t.Errorf("normal rotation after an override: got %v, want nil", err)
	}
	f.appendT(t, normal)
	r, err := Verify(f.dir, f.opts())
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Certs[2].Overrides; len(got) != 1 || got[0] != "ignore_clock" {
		t.Errorf("got overrides %q, want [ignore_clock]", got)
	}
	back := cert(f.pool, 2, U64(1), 120, "back")
	if err := f.log.Check(back); !errors.Is(err, ErrSemantics) {
		t.Errorf("a period before the last normal cert: got %v, want ErrSemantics", err)
	}
}

// Format 1 logs (written before cold-key evidence) keep verifying; once an
// entry carries its cert, every later one must.
func TestFormat1LogsStillVerify(t *testing.T) {
	f := legacyStandard(t, 1)
	r, err := Verify(f.dir, f.opts())
	if err != nil {
		t.Fatal(err)
	}
	if r.Format != "1" || len(r.Certs) != 2 || r.Certs[0].ColdSigned {
		t.Errorf("got format %q, certs %+v; want format 1 certs that are not cold-signed", r.Format, r.Certs)
	}
	f.appendT(t, cert(f.pool, 2, U64(1), 140, "c2")) // the first with its cert
	if _, err := Verify(f.dir, f.opts()); err != nil {
		t.Fatal(err)
	}
	f.appendT(t, forgedCert(f, 3, U64(2), 150, false))
	_, err = Verify(f.dir, f.opts())
	wantSeq(t, wantErr(t, err, ErrForged), 9)
}

// legacyStandard is standard's log as format 1 wrote it: no log_format in
// the init entry, no certs in cert-issued entries.
func legacyStandard(t *testing.T, seed byte) *fixture {
	t.Helper()
	f := standard(t, seed)
	resigned(t, f, f.key, func(es []Entry) []Entry {
		delete(es[0].Detail, DetailFormat)
		for i := range es {
			es[i].Cert = ""
		}
		return es
	})
	l, err := Open(f.dir, f.key)
	if err != nil {
		t.Fatal(err)
	}
	f.log = l
	return f
}

func producerAdd(f *fixture, name, enrollment string, signer ed25519.PrivateKey) Entry {
	e := base(KindProducerAdd, 5)
	fp := "ABCD-EFGH-IJKL-MNOP"
	e.Pool = f.pool
	e.Detail = map[string]string{DetailProducer: name, DetailFingerprint: fp}
	e.Files = []FileHash{{Role: "enrollment", Name: name + ".kre", SHA256: enrollment}}
	pin := NewPin(f.vaultID, name, fp, enrollment, f.coldVKey(), func(m []byte) []byte { return ed25519.Sign(signer, m) })
	e.Pin = &pin
	return e
}

// A producer's pin is signed by its pool's cold key: a pin someone with
// only the audit key makes does not verify and is not a pin; a name is
// never pinned to another enrollment.
func TestProducerPins(t *testing.T) {
	f := standard(t, 1)
	good := producerAdd(f, "bp1", hash("enrollment"), f.cold)
	if err := f.log.Check(good); err != nil {
		t.Fatal(err)
	}
	f.appendT(t, good)
	if p, ok := f.log.Pin("bp1"); !ok || !p.Signed || p.Enrollment != hash("enrollment") || p.Seq != 8 {
		t.Errorf("got pin %+v, %v", p, ok)
	}
	again := producerAdd(f, "bp1", hash("enrollment"), f.cold)
	if err := f.log.Check(again); err != nil {
		t.Errorf("the same pin again: got %v, want nil", err)
	}
	for _, tc := range []struct {
		name string
		e    Entry
		want error
	}{
		{"another enrollment", producerAdd(f, "bp1", hash("other"), f.cold), ErrSemantics},
		{"signed by another key", producerAdd(f, "bp2", hash("other"), coldKey(77)), ErrForged},
		{"no pin", func() Entry { e := producerAdd(f, "bp3", hash("x"), f.cold); e.Pin = nil; return e }(), ErrForged},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := f.log.Check(tc.e); !errors.Is(err, tc.want) {
				t.Errorf("Check: got %v, want %v", err, tc.want)
			}
		})
	}
	forged := producerAdd(f, "bp2", hash("attacker"), coldKey(77))
	f.appendT(t, forged)
	l, err := Open(f.dir, f.key)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := l.Pin("bp2"); ok {
		t.Errorf("a pin the cold key did not sign is returned: %+v", p)
	}
	_, err = Verify(f.dir, f.opts())
	wantSeq(t, wantErr(t, err, ErrForged), 9)
}

// An old cert copied into a new entry carries a valid cold-key signature,
// but it is a cert already issued: it must not rewind the rules (and so
// block the next genuine rotation); Verify names the copy.
func TestCopiedCertDoesNotRewindTheRules(t *testing.T) {
	f := standard(t, 1)
	entries, err := Entries(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	old := entries[4] // cert c0: counter 0, period 100
	old.Seq, old.Time = 0, old.Time.Add(time.Hour)
	f.appendT(t, old)
	l, err := Open(f.dir, f.key)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Check(cert(f.pool, 2, U64(1), 140, "c2")); err != nil {
		t.Errorf("genuine rotation after a copied cert: got %v, want nil", err)
	}
	_, err = Verify(f.dir, f.opts())
	wantSeq(t, wantErr(t, err, ErrSemantics), 8)
}

func producerRemoved(f *fixture, name, fp string) Entry {
	e := base(KindProducerRemoved, 6)
	e.Pool = f.pool
	e.Detail = map[string]string{DetailProducer: name, DetailFingerprint: fp}
	return e
}

// A pin is ended by a producer-removed entry, never changed in place:
// only a pinned name can be removed (with its own fingerprint), the pin
// is gone from then on, and the name can be pinned again to another
// enrollment with a new cold-signed pin. Verify lists both.
func TestProducerRemoved(t *testing.T) {
	f := standard(t, 1)
	f.appendT(t, producerAdd(f, "bp1", hash("enrollment"), f.cold))
	for _, tc := range []struct {
		name string
		e    Entry
		want error
	}{
		{"not pinned", producerRemoved(f, "bp2", "ABCD-EFGH-IJKL-MNOP"), ErrSemantics},
		{"another fingerprint", producerRemoved(f, "bp1", "AAAA-EFGH-IJKL-MNOP"), ErrSemantics},
		{"no producer", func() Entry { e := producerRemoved(f, "", "ABCD-EFGH-IJKL-MNOP"); return e }(), ErrInvalidEntry},
		{"a pin in it", func() Entry {
			e := producerRemoved(f, "bp1", "ABCD-EFGH-IJKL-MNOP")
			e.Pin = producerAdd(f, "bp1", hash("enrollment"), f.cold).Pin
			return e
		}(), ErrInvalidEntry},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := f.log.Check(tc.e); !errors.Is(err, tc.want) {
				t.Errorf("Check: got %v, want %v", err, tc.want)
			}
		})
	}
	// Before the removal another enrollment under the name is refused.
	if err := f.log.Check(producerAdd(f, "bp1", hash("rebuilt"), f.cold)); !errors.Is(err, ErrSemantics) {
		t.Fatalf("repin before removal: got %v, want ErrSemantics", err)
	}
	rm := producerRemoved(f, "bp1", "ABCD-EFGH-IJKL-MNOP")
	if err := f.log.Check(rm); err != nil {
		t.Fatal(err)
	}
	f.appendT(t, rm)
	if p, ok := f.log.Pin("bp1"); ok {
		t.Fatalf("a removed pin is returned: %+v", p)
	}
	if err := f.log.Check(producerRemoved(f, "bp1", "ABCD-EFGH-IJKL-MNOP")); !errors.Is(err, ErrSemantics) {
		t.Errorf("removed twice: got %v, want ErrSemantics", err)
	}
	// Pinned again to the rebuilt machine; a forged re-pin is still forged.
	if err := f.log.Check(producerAdd(f, "bp1", hash("rebuilt"), coldKey(77))); !errors.Is(err, ErrForged) {
		t.Errorf("forged repin: got %v, want ErrForged", err)
	}
	f.appendT(t, producerAdd(f, "bp1", hash("rebuilt"), f.cold))
	l, err := Open(f.dir, f.key)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := l.Pin("bp1"); !ok || p.Enrollment != hash("rebuilt") || p.Seq != 10 {
		t.Errorf("repinned: got %+v, %v", p, ok)
	}
	r, err := Verify(f.dir, f.opts())
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Producers) != 2 || r.Producers[0].Removed != 9 || r.Producers[0].Enrollment != hash("enrollment") ||
		r.Producers[1].Removed != 0 || r.Producers[1].Enrollment != hash("rebuilt") {
		t.Errorf("report: %+v", r.Producers)
	}
	// A removal the log does not justify fails Verify at that entry.
	f.appendT(t, producerRemoved(f, "bp9", "ABCD-EFGH-IJKL-MNOP"))
	_, err = Verify(f.dir, f.opts())
	wantSeq(t, wantErr(t, err, ErrSemantics), 11)
}
