package ceremony

import (
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/kesrotate/kesrotate/internal/vectors"
)

// State is what the vault holds of a pool and what its journal says:
// decided here, not by whoever prints it.
func TestPoolState(t *testing.T) {
	v, pools := benchVault(t, t.TempDir(), 1, t0)
	bp := pools[0]
	if _, err := rotateOnce(t, v, bp, bp.snapshot(t, v, t0), t0); err != nil {
		t.Fatal(err)
	}
	p, err := v.Pool(bp.name)
	if err != nil {
		t.Fatal(err)
	}
	st, err := p.State()
	if err != nil {
		t.Fatal(err)
	}
	id, _ := p.PoolID()
	hash, _ := p.VRFKeyHash()
	if st.PoolID != id || st.Meta.Name != bp.name || st.VRFKeyHash == nil || *st.VRFKeyHash != hash {
		t.Errorf("got pool %s %s, VRF key hash %v; want %s %s %s", st.Meta.Name, st.PoolID.Hex(), st.VRFKeyHash, bp.name, id.Hex(), hex.EncodeToString(hash[:]))
	}
	if len(st.Certs) != 1 || st.Certs[0].Counter != 0 || !st.History.Issued || st.History.LastIssued != 0 || st.CounterNext != 1 {
		t.Errorf("got certs %+v, history %+v, next %d; want cert #0 issued, next 1", st.Certs, st.History, st.CounterNext)
	}
	if want := v.Network.CertExpiry(st.Certs[0].KESPeriod); !st.Certs[0].Expiry.Equal(want) {
		t.Errorf("expiry %v, want %v", st.Certs[0].Expiry, want)
	}
	if len(st.Producers) != 1 || st.Producers[0].Producer != bp.producer || st.Producers[0].CertHash != st.Certs[0].CertHash {
		t.Errorf("producers %+v, want %s holding cert #0", st.Producers, bp.producer)
	}
	if st.Prepared != nil {
		t.Errorf("prepared %+v, want none", st.Prepared)
	}

	// A pool without a VRF key has no hash; one made elsewhere has none
	// issued.
	q, err := v.ImportPool("novrf", ImportOptions{ColdSkey: vectors.Read(t, "cardano-cli/node-cold.skey"),
		Counter: vectors.Read(t, "cardano-cli/genesis_delegate_keys.operational_certificate_counter")}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := q.State(); err != nil || st.VRFKeyHash != nil || len(st.Certs) != 0 || len(st.Producers) != 0 {
		t.Errorf("a pool without a VRF key: got %+v, %v", st, err)
	}
}

// A journal line whose cert_hash is not a SHA-256 is damage (ErrJournal),
// never a panic in whatever slices it for display.
func TestJournalRefusesAMalformedCertHash(t *testing.T) {
	v, pools := benchVault(t, t.TempDir(), 1, t0)
	bp := pools[0]
	if _, err := rotateOnce(t, v, bp, bp.snapshot(t, v, t0), t0); err != nil {
		t.Fatal(err)
	}
	p, err := v.Pool(bp.name)
	if err != nil {
		t.Fatal(err)
	}
	js, err := p.Journal()
	if err != nil {
		t.Fatal(err)
	}
	good := js[len(js)-1].CertHash
	b, err := os.ReadFile(p.journalPath())
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "abc", strings.ToUpper(good), good[:63] + "g", good + "00"} {
		if err := os.WriteFile(p.journalPath(), []byte(strings.Replace(string(b), `"cert_hash":"`+good+`"`, `"cert_hash":"`+bad+`"`, 1)), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Journal(); !errors.Is(err, ErrJournal) {
			t.Errorf("cert_hash %q: got %v, want ErrJournal", bad, err)
		}
		if _, err := p.State(); !errors.Is(err, ErrJournal) {
			t.Errorf("State with cert_hash %q: got %v, want ErrJournal", bad, err)
		}
	}
}
