package ceremony

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kesrotate/kesrotate/auditlog"
)

// TestAirgapGuard: the vault decides, before its first secret is opened,
// whether this machine may open it; a RequireAirgap vault records an
// allowed network once, with who acts.
func TestAirgapGuard(t *testing.T) {
	networked := func() ([]string, error) { return []string{"interface eth0 is up", "wlan device phy0"}, nil }
	clean := func() ([]string, error) { return nil, nil }
	unreadable := func() ([]string, error) { return nil, errors.New("no /sys/class/net") }
	for _, tc := range []struct {
		name          string
		init          InitOptions
		airgap        func() ([]string, error)
		allow         bool
		wantErr       error
		wantWarnings  int
		wantOverrides int
		wantDetail    string // in the override's airgap detail
	}{
		{name: "clean, air gap required", init: InitOptions{RequireAirgap: true}, airgap: clean},
		{name: "networked, air gap required", init: InitOptions{RequireAirgap: true}, airgap: networked, wantErr: ErrNotAirgapped},
		{name: "unreadable, air gap required", init: InitOptions{RequireAirgap: true}, airgap: unreadable, wantErr: ErrNotAirgapped},
		{name: "networked, allowed", init: InitOptions{RequireAirgap: true}, airgap: networked, allow: true, wantOverrides: 1, wantDetail: "interface eth0 is up; wlan device phy0"},
		{name: "unreadable, allowed", init: InitOptions{RequireAirgap: true}, airgap: unreadable, allow: true, wantOverrides: 1, wantDetail: "the network state could not be read (no /sys/class/net)"},
		{name: "encrypted, networked, allowed", init: InitOptions{RequireAirgap: true, Encryption: &Encryption{Passphrase: []byte(testPass), WorkFactor: testWorkFactor}},
			airgap: networked, allow: true, wantOverrides: 1, wantDetail: "interface eth0 is up"},
		{name: "encrypted, networked, air gap required", init: InitOptions{RequireAirgap: true, Encryption: &Encryption{Passphrase: []byte(testPass), WorkFactor: testWorkFactor}},
			airgap: networked, wantErr: ErrNotAirgapped},
		{name: "ordinary vault, networked", airgap: networked, wantWarnings: 1},
		{name: "ordinary vault, networked, allowed", airgap: networked, allow: true},
		{name: "ordinary vault, clean", airgap: clean},
		{name: "rehearsal vault, networked", init: InitOptions{Networked: true}, airgap: networked},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.init
			o.Network, o.Now, o.Rand = "mainnet", t0, &detRand{}
			v, err := Init(filepath.Join(t.TempDir(), "vault"), o)
			if err != nil {
				t.Fatal(err)
			}
			start := len(kinds(t, v))
			var warned [][]string
			at := t0.Add(time.Hour)
			w, err := Open(v.Dir)
			if err != nil {
				t.Fatal(err)
			}
			w.Audit = Audit{Operator: "alice", Witnesses: []string{"bob"}, Version: "v-test"}
			w.Unlock(Access{Passphrase: passAccess(testPass).Passphrase, Airgap: tc.airgap, AllowNetwork: tc.allow,
				Now: func() (time.Time, error) { return at, nil }, Warn: func(f []string) { warned = append(warned, f) }})
			// Reading the log opens no secret (a plaintext vault) or only
			// the audit key; a pool, then its cold key, are secrets.
			p, err := w.NewPool("alpha", t0)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("NewPool: got %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr != nil {
				if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "refused to open a secret: this machine is not air-gapped: ") {
					t.Errorf("refusal: got %q", err)
				}
				if got := len(kinds(t, v)); got != start {
					t.Errorf("a refused vault logged %d entries", got-start)
				}
				return
			}
			for range 2 {
				k, err := p.ColdKey()
				if err != nil {
					t.Fatal(err)
				}
				k.Wipe()
			}
			if len(warned) != tc.wantWarnings {
				t.Errorf("warnings: got %v, want %d", warned, tc.wantWarnings)
			}
			es, err := auditlog.Entries(v.LogDir())
			if err != nil {
				t.Fatal(err)
			}
			var overrides []auditlog.Entry
			for _, e := range es {
				if e.Kind == auditlog.KindOverride {
					overrides = append(overrides, e)
				}
			}
			if len(overrides) != tc.wantOverrides {
				t.Fatalf("override entries: got %d, want %d", len(overrides), tc.wantOverrides)
			}
			if tc.wantOverrides == 0 {
				return
			}
			e := overrides[0]
			if e.Operator != "alice" || !slices.Equal(e.Witnesses, []string{"bob"}) || e.Version != "v-test" || !e.Time.Equal(at) {
				t.Errorf("override by %q, witnesses %v, version %q at %s; want alice, [bob], v-test at %s", e.Operator, e.Witnesses, e.Version, e.Time, at)
			}
			if e.Detail[OverrideAllowNetwork] != "true" || !strings.HasPrefix(e.Detail[DetailAirgap], tc.wantDetail) {
				t.Errorf("override detail: got %v, want allow_network true and airgap %q", e.Detail, tc.wantDetail)
			}
			if slices.IndexFunc(es, func(x auditlog.Entry) bool { return x.Kind == auditlog.KindPoolNew }) < int(e.Seq) {
				t.Errorf("the override (seq %d) was logged after the pool it let in", e.Seq)
			}
			if _, err := auditlog.Verify(v.LogDir(), auditlog.VerifyOptions{}); err != nil {
				t.Errorf("the log does not verify: %v", err)
			}
		})
	}
}

// TestAirgapOverrideUnloggedRefuses: an allowed network that the log
// cannot record is not used.
func TestAirgapOverrideUnloggedRefuses(t *testing.T) {
	v, err := Init(filepath.Join(t.TempDir(), "vault"), InitOptions{Network: "mainnet", Now: t0, Rand: &detRand{}, RequireAirgap: true})
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.NewPool("alpha", t0) // no Airgap check
	if err != nil {
		t.Fatal(err)
	}
	v.Audit = Audit{Operator: "bad\nname"} // no entry can carry it
	v.Unlock(Access{Airgap: func() ([]string, error) { return []string{"eth0 is up"}, nil }, AllowNetwork: true})
	if _, err := p.ColdKey(); !errors.Is(err, ErrRefused) {
		t.Errorf("got %v, want ErrRefused", err)
	}
}
