package auditlog

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"testing"

	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/opcert"
)

// hwKey is the hardware-key entry putting f's pool on a hardware wallet.
func hwKey(f *fixture) Entry {
	e := base(KindHardwareKey, 2)
	e.Pool = f.pool
	e.Detail = map[string]string{DetailColdVKey: hex.EncodeToString(f.coldVKey()), DetailPath: "1853H/1815H/0H/0H"}
	e.Files = []FileHash{{Role: "hw-signing-file", Name: "cold.hwsfile", SHA256: hash("hwsfile")}}
	return e
}

// hwFixture is a format 2 log with one pool whose cold key is on a
// hardware wallet (the test's cold key stands for the device's).
func hwFixture(t *testing.T) *fixture {
	t.Helper()
	f := newVault(t, t.TempDir()+"/log", 9)
	pi := base(KindPoolImport, 1)
	pi.Pool = f.pool
	f.appendT(t, pi)
	f.appendT(t, hwKey(f))
	return f
}

// prepared is the cert-prepared entry of the cert cert(pool, n, …, name)
// makes: the same counter, period and KES key.
func prepared(pool string, n uint64, onchain *uint64, period uint64, name string) Entry {
	e := base(KindCertPrepared, 9+int(n))
	e.Pool, e.Counter, e.KESPeriod, e.OnChainCounter = pool, U64(n), U64(period), onchain
	kes := sha256.Sum256([]byte("kes" + name))
	e.KESVKeyHash = KESVKeyHash(kes[:])
	return e
}

// finished is cert(…) naming the cert-prepared entry at seq.
func finished(pool string, n uint64, onchain *uint64, period uint64, name string, seq int64) Entry {
	e := cert(pool, n, onchain, period, name)
	e.Detail = map[string]string{DetailPrepared: strconv.FormatInt(seq, 10)}
	return e
}

func abandoned(pool string, n uint64, period uint64, name string, seq int64) Entry {
	e := prepared(pool, n, nil, period, name)
	e.Kind, e.OnChainCounter = KindCertAbandoned, nil
	e.Detail = map[string]string{DetailPrepared: strconv.FormatInt(seq, 10)}
	return e
}

// pinless is a producer-add entry without a cold-key pin.
func pinless(f *fixture, name string) Entry {
	e := producerAdd(f, name, hash("enrollment"+name), f.cold)
	e.Pin = nil
	return e
}

// A pool on a hardware wallet: its pins need no cold-key signature, each
// cert is prepared first and then issued (or abandoned), the report says
// which pools and certs are the device's, and a preparation left open is
// listed.
func TestHardwarePool(t *testing.T) {
	f := hwFixture(t)
	steps := []Entry{
		pinless(f, "bp1"),                                                            // 3
		prepared(f.pool, 0, nil, 100, "a"),                                           // 4
		finished(f.pool, 0, nil, 100, "a", 4),                                        // 5
		bundle(f.pool, "a"),                                                          // 6
		prepared(f.pool, 1, U64(0), 130, "b"),                                        // 7
		abandoned(f.pool, 1, 130, "b", 7),                                            // 8
		prepared(f.pool, 1, U64(0), 131, "c"),                                        // 9: the same counter again, after the abandon
		finished(f.pool, 1, U64(0), 131, "c", 9),                                     // 10
		withDetail(prepared(f.pool, 2, U64(1), 170, "d"), DetailSealedTo, "bp1 bp2"), // 11: left open
	}
	for _, e := range steps {
		if err := f.log.Check(e); err != nil {
			t.Fatalf("Check(%s #%d): %v", e.Kind, *valueOr(e.Counter), err)
		}
		f.appendT(t, e)
	}
	if p, ok := f.log.Pin("bp1"); !ok || p.Signed {
		t.Errorf("pin of bp1: got %+v, %v; want an unsigned pin", p, ok)
	}
	if r, ok := f.log.Prepared(f.pool); !ok || r.Seq != 11 || r.Counter != 2 || r.KESPeriod != 170 {
		t.Errorf("open preparation: got %+v, %v", r, ok)
	}
	if created, keyed := f.log.PoolLogged(f.pool); !created || !keyed || !f.log.HardwarePool(f.pool) {
		t.Errorf("PoolLogged: %v %v, HardwarePool %v", created, keyed, f.log.HardwarePool(f.pool))
	}
	r, err := Verify(f.dir, f.opts())
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if len(r.Pools) != 1 || !r.Pools[0].HardwareWallet || !r.Pools[0].Checked || r.Pools[0].BindingSeq != 2 {
		t.Errorf("pools: %+v", r.Pools)
	}
	if len(r.Certs) != 2 || !r.Certs[0].HardwareWallet || !r.Certs[0].ColdSigned || r.Certs[1].Counter != 1 {
		t.Errorf("certs: %+v", r.Certs)
	}
	if len(r.Prepared) != 1 || r.Prepared[0].Seq != 11 {
		t.Errorf("open preparations: %+v", r.Prepared)
	}
	// The saved state keeps all of it: the unsigned pin, the open
	// preparation, the pool's key.
	l := saved(t, f)
	if !fromState(l) {
		t.Fatal("a log with a hardware pool is not opened from its state")
	}
	if p, ok := l.Pin("bp1"); !ok || p.Signed {
		t.Errorf("pin from the state: %+v, %v", p, ok)
	}
	if r, ok := l.Prepared(f.pool); !ok || r.Seq != 11 || r.SealedTo != "bp1 bp2" {
		t.Errorf("open preparation from the state: %+v, %v", r, ok)
	}
	if err := l.Check(finished(f.pool, 2, U64(1), 170, "d", 11)); err != nil {
		t.Errorf("Check of the prepared cert from the state: %v", err)
	}
	if err := l.Check(finished(f.pool, 2, U64(1), 171, "e", 11)); !errors.Is(err, ErrSemantics) {
		t.Errorf("Check of a cert that was not prepared, from the state: got %v, want ErrSemantics", err)
	}
}

func withDetail(e Entry, k, v string) Entry {
	if e.Detail == nil {
		e.Detail = map[string]string{}
	}
	e.Detail[k] = v
	return e
}

func valueOr(p *uint64) *uint64 {
	if p == nil {
		return U64(0)
	}
	return p
}

// otherKeyCert is a cert-issued entry whose cert names the pool's cold
// vkey but was signed by another key: the right content, the wrong device.
func otherKeyCert(f *fixture, n uint64, period uint64, name string, seq int64) Entry {
	e := finished(f.pool, n, nil, period, name, seq)
	other, err := keys.NewColdKey(coldKey(77).Seed())
	if err != nil {
		panic(err)
	}
	var vk keys.KESVKey
	kes := sha256.Sum256([]byte("kes" + name))
	copy(vk[:], kes[:])
	c := opcert.Issue(other, vk, n, period)
	copy(c.Cold[:], f.coldVKey())
	b, _ := c.MarshalCBOR()
	e.Cert, e.CertHash = hex.EncodeToString(b), c.Hash()
	return e
}

func TestHardwareRules(t *testing.T) {
	type step = func(f *fixture) Entry
	prep := func(n uint64, onchain *uint64, period uint64, name string) step {
		return func(f *fixture) Entry { return prepared(f.pool, n, onchain, period, name) }
	}
	fin := func(n uint64, onchain *uint64, period uint64, name string, seq int64) step {
		return func(f *fixture) Entry { return finished(f.pool, n, onchain, period, name, seq) }
	}
	for _, tc := range []struct {
		name  string
		steps []step
		want  error
		seq   int64
	}{
		{"cert without preparation", []step{fin(0, nil, 100, "a", 3)}, ErrSemantics, 3},
		{"cert with another counter", []step{prep(0, nil, 100, "a"), fin(1, nil, 100, "a", 3)}, ErrSemantics, 4},
		{"cert with another period", []step{prep(0, nil, 100, "a"), fin(0, nil, 101, "a", 3)}, ErrSemantics, 4},
		{"cert of another KES key", []step{prep(0, nil, 100, "a"), fin(0, nil, 100, "b", 3)}, ErrSemantics, 4},
		{"cert naming another entry", []step{prep(0, nil, 100, "a"), fin(0, nil, 100, "a", 2)}, ErrSemantics, 4},
		{"cert without its cert", []step{prep(0, nil, 100, "a"), func(f *fixture) Entry {
			e := finished(f.pool, 0, nil, 100, "a", 3)
			e.Cert = ""
			return e
		}}, ErrForged, 4},
		{"cert signed by another key", []step{prep(0, nil, 100, "a"), func(f *fixture) Entry { return otherKeyCert(f, 0, 100, "a", 3) }}, ErrForged, 4},
		{"cert issued twice", []step{prep(0, nil, 100, "a"), fin(0, nil, 100, "a", 3), fin(0, nil, 100, "a", 3)}, ErrSemantics, 5},
		{"two preparations", []step{prep(0, nil, 100, "a"), prep(0, nil, 100, "b")}, ErrSemantics, 4},
		{"preparation over-increments", []step{prep(2, U64(0), 100, "a")}, ErrSemantics, 3},
		{"preparation goes back in time", []step{prep(0, nil, 100, "a"), fin(0, nil, 100, "a", 3), prep(1, U64(0), 99, "b")}, ErrSemantics, 5},
		{"abandon without preparation", []step{func(f *fixture) Entry { return abandoned(f.pool, 0, 100, "a", 3) }}, ErrSemantics, 3},
		{"abandon of another cert", []step{prep(0, nil, 100, "a"), func(f *fixture) Entry { return abandoned(f.pool, 1, 100, "a", 3) }}, ErrSemantics, 4},
		{"abandon after the cert", []step{prep(0, nil, 100, "a"), fin(0, nil, 100, "a", 3), func(f *fixture) Entry { return abandoned(f.pool, 0, 100, "a", 3) }}, ErrSemantics, 5},
		{"audit binding as well", []step{func(f *fixture) Entry {
			b, err := Bind(f.cold, f.vaultID, f.vkey)
			if err != nil {
				panic(err)
			}
			e, _ := b.Entry()
			be := base(KindAuditBinding, 4)
			e.Time, e.BinarySHA256, e.Version = be.Time, be.BinarySHA256, be.Version
			return e
		}}, ErrBinding, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := hwFixture(t)
			var checkErr error
			for _, s := range tc.steps {
				e := s(f)
				if err := f.log.Check(e); err != nil && checkErr == nil {
					checkErr = err
				}
				f.appendT(t, e)
			}
			_, err := Verify(f.dir, f.opts())
			wantSeq(t, wantErr(t, err, tc.want), tc.seq)
			if !errors.Is(checkErr, tc.want) {
				t.Errorf("Check: got %v, want %v", checkErr, tc.want)
			}
			if _, err := Open(f.dir, f.key); err != nil {
				t.Errorf("Open after a violation: %v", err)
			}
		})
	}
}

// A pool whose cold key is in the vault keeps every rule: it cannot be
// put on a hardware wallet after its binding, cannot prepare, and its
// pins need the cold key.
func TestHardwareRulesForBoundPools(t *testing.T) {
	f := standard(t, 1)
	for _, tc := range []struct {
		name string
		e    Entry
		want error
	}{
		{"hardware-key after the binding", hwKey(f), ErrBinding},
		{"preparation", prepared(f.pool, 2, U64(1), 160, "x"), ErrBinding},
		{"abandon", abandoned(f.pool, 2, 160, "x", 3), ErrBinding},
		{"pin without signature", pinless(f, "bp9"), ErrForged},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := f.log.Check(tc.e); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestHardwareEntryValidation(t *testing.T) {
	f := hwFixture(t)
	for _, tc := range []struct {
		name   string
		change func(e *Entry)
	}{
		{"payment key path", func(e *Entry) { e.Detail[DetailPath] = "1852H/1815H/0H/0/0" }},
		{"another pool's key", func(e *Entry) {
			e.Detail[DetailColdVKey] = hex.EncodeToString(coldKey(44).Public().(ed25519.PublicKey))
		}},
		{"no key", func(e *Entry) { delete(e.Detail, DetailColdVKey) }},
		{"small-order key", func(e *Entry) {
			e.Detail[DetailColdVKey] = "0100000000000000000000000000000000000000000000000000000000000000"
			id := PoolID(mustDecode(e.Detail[DetailColdVKey]))
			e.Pool = hex.EncodeToString(id[:])
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := hwKey(f)
			tc.change(&e)
			if err := e.Validate(); !errors.Is(err, ErrInvalidEntry) {
				t.Fatalf("got %v, want ErrInvalidEntry", err)
			}
		})
	}
	ab := abandoned(f.pool, 0, 100, "a", 3)
	ab.Detail[DetailPrepared] = "03"
	if err := ab.Validate(); !errors.Is(err, ErrInvalidEntry) {
		t.Errorf("abandon naming \"03\": got %v, want ErrInvalidEntry", err)
	}
	o := base(KindOverride, 3)
	o.Pool, o.Detail = f.pool, map[string]string{DetailPrepared: "3"}
	if err := o.Validate(); !errors.Is(err, ErrInvalidEntry) {
		t.Errorf("prepared_entry in an override entry: got %v, want ErrInvalidEntry", err)
	}
}

func mustDecode(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}
