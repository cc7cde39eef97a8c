package testnode

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blinklabs-io/gouroboros/kes"

	"github.com/kesrotate/kesrotate/keys"
)

func TestStartLikeTheNode(t *testing.T) {
	pool := mustPool(t, 1)
	other := mustPool(t, 2)
	good := func(t *testing.T, dir string) Config { return mustWrite(t, pool, dir, mustIssue(t, pool, 10, 3, 98)) }
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string) Config
		wantErr error  // nil: it starts
		wantMsg string // the node's message (what the binary prints), or a log line it writes
		// for a node that starts:
		forging     bool
		canForge    bool
		cannotForge string
	}{
		{name: "good set", setup: good, forging: true, canForge: true},
		{
			name: "VRF key with group read warns on stdout",
			setup: func(t *testing.T, dir string) Config {
				cfg := good(t, dir)
				chmod(t, cfg.VRFKeyPath, 0o640)
				return cfg
			},
			wantMsg: `WARNING: VRF private key file at: ` + filepath.Join("DIR", VRFKeyFile) + ` has "group" file permissions. Please remove all "group" file permissions.`,
			forging: true, canForge: true,
		},
		{
			name: "VRF key readable by others is fatal",
			setup: func(t *testing.T, dir string) Config {
				cfg := good(t, dir)
				chmod(t, cfg.VRFKeyPath, 0o604)
				return cfg
			},
			wantErr: ErrVRFPermissions,
			wantMsg: `VRF private key file at: ` + filepath.Join("DIR", VRFKeyFile) + ` has "other" file permissions. Please remove all "other" file permissions.`,
		},
		{
			name: "KES key and cert modes are never looked at",
			setup: func(t *testing.T, dir string) Config {
				cfg := good(t, dir)
				chmod(t, cfg.KESKeyPath, 0o666)
				chmod(t, cfg.CertPath, 0o666)
				return cfg
			},
			forging: true, canForge: true,
		},
		{
			name: "missing cert is fatal",
			setup: func(t *testing.T, dir string) Config {
				cfg := good(t, dir)
				remove(t, cfg.CertPath)
				return cfg
			},
			wantErr: ErrMissingCredential,
			wantMsg: "Error file not found at: " + filepath.Join("DIR", CertFile),
		},
		{
			name: "missing VRF key is fatal (the mode check cannot stat it)",
			setup: func(t *testing.T, dir string) Config {
				cfg := good(t, dir)
				remove(t, cfg.VRFKeyPath)
				return cfg
			},
			wantErr: ErrMissingCredential,
			wantMsg: filepath.Join("DIR", VRFKeyFile) + ": getFileStatus: does not exist (No such file or directory)",
		},
		{
			name: "missing KES key is fatal even when non-producing",
			setup: func(t *testing.T, dir string) Config {
				cfg := good(t, dir)
				remove(t, cfg.KESKeyPath)
				cfg.StartNonProducing = true
				return cfg
			},
			wantErr: ErrMissingCredential,
			wantMsg: "Error file not found at: " + filepath.Join("DIR", KESKeyFile),
		},
		{
			name: "missing KES key with the test knob starts disabled",
			setup: func(t *testing.T, dir string) Config {
				cfg := good(t, dir)
				remove(t, cfg.KESKeyPath)
				cfg.AllowMissingCredentials = true
				return cfg
			},
			wantMsg:     "Disabling block forging",
			cannotForge: "no credentials",
		},
		{
			name: "KES key is not the cert's",
			setup: func(t *testing.T, dir string) Config {
				cfg := good(t, dir)
				writeFile(t, cfg.KESKeyPath, mustIssue(t, pool, 11, 3, 98).KES.MarshalEnvelope(), 0o600)
				return cfg
			},
			wantErr: ErrKESMismatch,
			wantMsg: `The KES key provided at: "` + filepath.Join("DIR", KESKeyFile) +
				`" does not match the KES key specified in the operational certificate at: "` + filepath.Join("DIR", CertFile) + `"`,
		},
		{
			name: "op cert file holds a cold vkey",
			setup: func(t *testing.T, dir string) Config {
				cfg := good(t, dir)
				writeFile(t, cfg.CertPath, pool.Cold.Public().MarshalEnvelope(), 0o644)
				return cfg
			},
			wantErr: ErrCredentialFile,
			wantMsg: filepath.Join("DIR", CertFile) + `: TextEnvelope type error:  Expected: NodeOperationalCertificate Actual: StakePoolVerificationKey_ed25519`,
		},
		{
			name: "non-producing with every file present reads them and does not forge",
			setup: func(t *testing.T, dir string) Config {
				cfg := good(t, dir)
				cfg.StartNonProducing = true
				return cfg
			},
			wantMsg: "Disabling block forging", cannotForge: "block forging is disabled",
		},
		{
			name: "cert whose window has ended starts and cannot forge",
			setup: func(t *testing.T, dir string) Config {
				return mustWrite(t, pool, dir, mustIssue(t, pool, 10, 3, 100-network.MaxKESEvolutions))
			},
			wantMsg: "KESCouldNotEvolve", forging: true, cannotForge: "window ended",
		},
		{
			name: "cert from a future period starts and cannot forge",
			setup: func(t *testing.T, dir string) Config {
				return mustWrite(t, pool, dir, mustIssue(t, pool, 10, 3, 101))
			},
			forging: true, cannotForge: "PraosCannotForgeKeyNotUsableYet",
		},
		{
			name: "cert signed by another cold key starts: the node never checks",
			setup: func(t *testing.T, dir string) Config {
				s := mustIssue(t, pool, 10, 3, 98)
				s.Cert.Cold = other.Cold.Public()
				return mustWrite(t, pool, dir, s)
			},
			forging: true, cannotForge: "signature",
		},
		{
			// Evolved once, then evolved by the node from what it takes for
			// evolution 0 to evolution 1: the right leaf comes from the
			// erased seed. (At some later evolutions such a key signs again:
			// the node regenerates subtrees from seeds it still holds.)
			name: "an evolved KES key file loads: the node cannot tell",
			setup: func(t *testing.T, dir string) Config {
				s := mustIssue(t, pool, 10, 3, 99)
				cfg := mustWrite(t, pool, dir, s)
				next, err := kes.Update(&kes.SecretKey{Depth: keys.KESDepth, Data: s.KES.Raw()})
				if err != nil {
					t.Fatal(err)
				}
				writeEnvelope(t, cfg.KESKeyPath, keys.TypeKESSigningKey, next.Data)
				return cfg
			},
			forging: true, cannotForge: "evolved key file",
		},
		{
			name: "symlinks are followed",
			setup: func(t *testing.T, dir string) Config {
				real := filepath.Join(dir, "real")
				if err := os.Mkdir(real, 0o700); err != nil {
					t.Fatal(err)
				}
				good(t, real)
				cfg := good(t, t.TempDir())
				for _, p := range []string{KESKeyFile, VRFKeyFile, CertFile} {
					link := filepath.Join(dir, "link-"+p)
					if err := os.Symlink(filepath.Join("real", p), link); err != nil {
						t.Fatal(err)
					}
				}
				cfg.KESKeyPath, cfg.VRFKeyPath, cfg.CertPath = filepath.Join(dir, "link-"+KESKeyFile),
					filepath.Join(dir, "link-"+VRFKeyFile), filepath.Join(dir, "link-"+CertFile)
				return cfg
			},
			forging: true, canForge: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := tt.setup(t, dir)
			cfg.Severity = "Debug"
			cfg.TraceOptions = map[string]string{"Forge": "Debug", "Startup": "Debug"}
			log := &syncBuffer{}
			cfg.Log = log
			wantMsg := strings.ReplaceAll(tt.wantMsg, "DIR", dir)
			n, err := Start(context.Background(), cfg)
			if tt.wantErr != nil {
				if err == nil {
					_ = n.Close()
					t.Fatalf("Start succeeded, want %v", tt.wantErr)
				}
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("got error %v, want one wrapping %v", err, tt.wantErr)
				}
				if got := nodeMessage(err); got != wantMsg {
					t.Errorf("got message\n%s\nwant\n%s", got, wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want a running node", err)
			}
			defer func() { _ = n.Close() }()
			if wantMsg != "" && !strings.Contains(log.String(), wantMsg) {
				t.Errorf("got log\n%s\nwant %q in it", log, wantMsg)
			}
			s := n.State()
			if s.Forging != tt.forging || s.CanForge != tt.canForge || !strings.Contains(s.CannotForge, tt.cannotForge) {
				t.Errorf("got forging %v, can forge %v (%q), want %v, %v (%q)", s.Forging, s.CanForge, s.CannotForge, tt.forging, tt.canForge, tt.cannotForge)
			}
		})
	}
}

func chmod(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func remove(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
}

// The metric values a scraper reads, with absent ones as -1.
type kesView struct{ forging, start, expiry, current, remaining float64 }

func readKES(t *testing.T, n *Node) kesView {
	t.Helper()
	m := scrape(t, n.MetricsURL())
	get := func(name string) float64 {
		if v, ok := m[name]; ok {
			return v
		}
		return -1
	}
	return kesView{get(MetricForgingEnabledInt), get(MetricCertStartPeriod), get(MetricCertExpiryPeriod),
		get(MetricCurrentKESPeriod), get(MetricRemainingKES)}
}

func TestReloadFollowsTheNodesRules(t *testing.T) {
	pool := mustPool(t, 1)
	dir := t.TempDir()
	cfg := mustWrite(t, pool, dir, mustIssue(t, pool, 10, 3, 98))
	cfg.MetricsAddr = "127.0.0.1:0"
	cfg.TraceOptions = map[string]string{"Startup": "Info"}
	n, log := start(t, cfg)
	const max = 62

	type want struct {
		outcome Outcome
		err     error
		forging bool
		counter uint64
		sets    int
		metrics kesView
		log     string
	}
	steps := []struct {
		name   string
		change func(t *testing.T)
		want   want
	}{
		{
			name:   "unchanged files reload as they are",
			change: func(*testing.T) {},
			want:   want{Enabled, nil, true, 3, 2, kesView{1, 98, 98 + max, 100, 98 + max - 100}, "Enabling block forging"},
		},
		{
			name:   "missing cert disables forging; the KES gauges keep their values",
			change: func(t *testing.T) { remove(t, cfg.CertPath) },
			want:   want{Disabled, ErrMissingCredential, false, 3, 2, kesView{0, 98, 98 + max, 100, 98 + max - 100}, "Disabling block forging"},
		},
		{
			name:   "new good set enables forging with it",
			change: func(t *testing.T) { mustWrite(t, pool, dir, mustIssue(t, pool, 20, 4, 100)) },
			want:   want{Enabled, nil, true, 4, 3, kesView{1, 100, 100 + max, 100, max}, "Enabling block forging"},
		},
		{
			name: "mismatched KES key keeps the old set",
			change: func(t *testing.T) {
				s := mustIssue(t, pool, 30, 5, 100)
				s.KES = mustIssue(t, pool, 31, 5, 100).KES
				mustWrite(t, pool, dir, s)
			},
			want: want{Kept, ErrKESMismatch, true, 4, 3, kesView{1, 100, 100 + max, 100, max},
				`Block forging reconfiguration error: CardanoProtocolInstantiationError (CardanoProtocolInstantiationPraosLeaderCredentialsError (MismatchedKesKey "` +
					cfg.KESKeyPath + `" "` + cfg.CertPath + `"))` + "\nBlock forging is not reconfigured."},
		},
		{
			name:   "a cert file holding another envelope keeps the old set",
			change: func(t *testing.T) { writeFile(t, cfg.CertPath, pool.Cold.Public().MarshalEnvelope(), 0o644) },
			want: want{Kept, ErrCredentialFile, true, 4, 3, kesView{1, 100, 100 + max, 100, max},
				`(FileError (FileError "` + cfg.CertPath + `" (TextEnvelopeTypeError [TextEnvelopeType "NodeOperationalCertificate"] (TextEnvelopeType "StakePoolVerificationKey_ed25519")))))` +
					"\nBlock forging is not reconfigured."},
		},
		{
			name: "no mode check at reload: a VRF key readable by others is taken",
			change: func(t *testing.T) {
				mustWrite(t, pool, dir, mustIssue(t, pool, 40, 5, 100))
				chmod(t, cfg.VRFKeyPath, 0o644)
			},
			want: want{Enabled, nil, true, 5, 4, kesView{1, 100, 100 + max, 100, max}, "Enabling block forging"},
		},
		{
			name: "a dangling link is a missing file",
			change: func(t *testing.T) {
				remove(t, cfg.KESKeyPath)
				if err := os.Symlink(filepath.Join(dir, "gone"), cfg.KESKeyPath); err != nil {
					t.Fatal(err)
				}
			},
			want: want{Disabled, ErrMissingCredential, false, 5, 4, kesView{0, 100, 100 + max, 100, max}, "Disabling block forging"},
		},
		{
			name: "no window check at reload: an ended window loads and the KES key cannot evolve",
			change: func(t *testing.T) {
				remove(t, cfg.KESKeyPath)
				mustWrite(t, pool, dir, mustIssue(t, pool, 50, 6, 100-max))
			},
			want: want{Enabled, nil, true, 6, 5, kesView{1, 100 - max, 100, 0, 0}, "KESCouldNotEvolve"},
		},
		{
			name:   "a window not yet started loads: current is its start, all periods remain",
			change: func(t *testing.T) { mustWrite(t, pool, dir, mustIssue(t, pool, 60, 7, 105)) },
			want:   want{Enabled, nil, true, 7, 6, kesView{1, 105, 105 + max, 105, max}, "KES info startPeriod  105 currPeriod 105 endPeriod 167, 62 KES periods until expiry."},
		},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.change(t)
			before := len(log.String())
			o, err := n.Reload()
			if o != st.want.outcome {
				t.Errorf("got outcome %v, want %v", o, st.want.outcome)
			}
			if (st.want.err == nil) != (err == nil) || (st.want.err != nil && !errors.Is(err, st.want.err)) {
				t.Errorf("got error %v, want %v", err, st.want.err)
			}
			s := n.State()
			if s.Forging != st.want.forging || s.CertCounter != st.want.counter || s.Sets != st.want.sets {
				t.Errorf("got forging %v counter %d sets %d, want %v %d %d", s.Forging, s.CertCounter, s.Sets, st.want.forging, st.want.counter, st.want.sets)
			}
			got := log.String()[before:]
			if !strings.Contains(got, st.want.log) {
				t.Errorf("got new log lines %q, want %q in them", got, st.want.log)
			}
			// updateBlockForging runs before the topology update.
			if i, j := strings.Index(got, "forging"), strings.Index(got, "Performing topology configuration update"); i < 0 || j < i {
				t.Errorf("got new log lines %q, want the forging update and then the topology update", got)
			}
			if m := readKES(t, n); m != st.want.metrics {
				t.Errorf("got metrics %+v, want %+v", m, st.want.metrics)
			}
		})
	}
}

func TestStartedNonProducingForgesAfterSIGHUP(t *testing.T) {
	pool := mustPool(t, 1)
	cfg := mustWrite(t, pool, t.TempDir(), mustIssue(t, pool, 10, 3, 98))
	cfg.StartNonProducing = true
	cfg.MetricsAddr = "127.0.0.1:0"
	n, _ := start(t, cfg)
	if s, m := n.State(), readKES(t, n); s.Forging || !s.Loaded || m != (kesView{0, -1, -1, -1, -1}) {
		t.Fatalf("got forging %v loaded %v metrics %+v, want a set read but not forging and no KES gauges", s.Forging, s.Loaded, m)
	}
	if o, err := n.Reload(); o != Enabled || err != nil {
		t.Fatalf("got Reload %v, %v, want enabled: updateBlockForging does not look at the flag", o, err)
	}
	if s := n.State(); !s.Forging || !s.CanForge {
		t.Errorf("got %+v, want forging", s)
	}
}

func TestReloadWhileReplayingIsNotEffective(t *testing.T) {
	pool := mustPool(t, 1)
	dir := t.TempDir()
	cfg := mustWrite(t, pool, dir, mustIssue(t, pool, 10, 3, 98))
	cfg.Replaying = true
	cfg.MetricsAddr = "127.0.0.1:0"
	cfg.TraceOptions = map[string]string{"Startup.BlockForgingUpdate": "Info"}
	n, log := start(t, cfg)
	if m := readKES(t, n); m.forging != 1 {
		t.Errorf("got forging_enabled %v at start, want 1 (the start trace says Enabled)", m.forging)
	}
	mustWrite(t, pool, dir, mustIssue(t, pool, 20, 4, 100))
	before := len(log.String())
	o, err := n.Reload()
	if o != Ignored || !errors.Is(err, ErrNotEffective) {
		t.Errorf("got %v, %v, want ignored, ErrNotEffective", o, err)
	}
	got := log.String()[before:]
	if i, j := strings.Index(got, "Performing topology configuration update"), strings.Index(got, "not effective until consensus has started"); i < 0 || j < i {
		t.Errorf("got new log lines %q, want the topology update and then NotEffective", got)
	}
	if m := readKES(t, n); m.forging != 0 {
		t.Errorf("got forging_enabled %v, want 0 after NotEffective", m.forging)
	}
	if err := n.FinishReplay(); err != nil {
		t.Fatal(err)
	}
	if s := n.State(); !s.Forging || s.CertCounter != 3 {
		t.Errorf("got forging %v with counter %d, want the set read at start (3)", s.Forging, s.CertCounter)
	}
}

func TestRejectReloadIsAPermissionDeniedRead(t *testing.T) {
	pool := mustPool(t, 1)
	dir := t.TempDir()
	cfg := mustWrite(t, pool, dir, mustIssue(t, pool, 10, 3, 98))
	cfg.RejectReload = true
	n, log := start(t, cfg)
	mustWrite(t, pool, dir, mustIssue(t, pool, 20, 4, 100))
	o, err := n.Reload()
	if o != Kept || !errors.Is(err, ErrRejected) || !errors.Is(err, ErrCredentialFile) {
		t.Errorf("got %v, %v, want kept, ErrRejected", o, err)
	}
	want := `Block forging reconfiguration error: CardanoProtocolInstantiationError (CardanoProtocolInstantiationPraosLeaderCredentialsError (FileError (FileIOError "` +
		cfg.KESKeyPath + `" ` + cfg.KESKeyPath + `: openFileBlocking: permission denied (Permission denied))))`
	if !strings.Contains(log.String(), want) {
		t.Errorf("got log %q, want %q in it", log, want)
	}
	if s := n.State(); !s.Forging || s.CertCounter != 3 {
		t.Errorf("got forging %v with counter %d, want the old set (3)", s.Forging, s.CertCounter)
	}
}

func TestTipFollowsTheClock(t *testing.T) {
	pool := mustPool(t, 1)
	cfg := mustWrite(t, pool, t.TempDir(), mustIssue(t, pool, 10, 3, 98))
	at := network.SlotTime(tipSlot)
	cfg.Clock = func() time.Time { return at }
	cfg.TipLag = 10 * time.Minute
	n, _ := start(t, cfg)
	if s := n.State(); s.TipSlot != tipSlot-600 {
		t.Errorf("got tip %d, want %d: ten minutes of one-second slots behind the clock", s.TipSlot, tipSlot-600)
	}
	n.SetTipSlot(99 * network.SlotsPerKESPeriod)
	if s := n.State(); s.CurrentPeriod != 99 || s.Evolution != 1 || s.RemainingPeriods != 61 {
		t.Errorf("got period %d evolution %d remaining %d, want 99, 1, 61", s.CurrentPeriod, s.Evolution, s.RemainingPeriods)
	}
}

func TestSecretsStayOutOfLogs(t *testing.T) {
	pool := mustPool(t, 1)
	s := mustIssue(t, pool, 10, 3, 98)
	cfg := mustWrite(t, pool, t.TempDir(), s)
	cfg.Severity = "Debug"
	for _, f := range []string{LogHuman, LogJSON} {
		cfg.LogFormat = f
		n, log := start(t, cfg)
		_, _ = n.Reload()
		raw := s.KES.Raw()
		for _, secret := range [][]byte{raw[:32], pool.VRF.Seed()} {
			if strings.Contains(log.String(), string(secret)) || strings.Contains(log.String(), hexOf(secret)) {
				t.Fatalf("%s: the log holds secret key material", f)
			}
		}
	}
}

func TestCredentialsPrintRedacted(t *testing.T) {
	pool := mustPool(t, 1)
	cfg := mustWrite(t, pool, t.TempDir(), mustIssue(t, pool, 10, 3, 98))
	c, cerr := readCredentials(cfg.VRFKeyPath, cfg.CertPath, cfg.KESKeyPath)
	if cerr != nil {
		t.Fatal(cerr)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x"} {
		for _, v := range []any{c, *c} {
			if got := fmt.Sprintf(verb, v); got != "[REDACTED]" {
				t.Errorf("%s of %T: got %q, want [REDACTED]", verb, v, got)
			}
		}
	}
}

// With a tip that follows the clock the forge loop runs at each new slot:
// when the clock crosses the end of the cert's window, the key cannot
// evolve and the gauges drop to 0.
func TestForgeLoopFollowsTheClock(t *testing.T) {
	pool := mustPool(t, 1)
	cfg := mustWrite(t, pool, t.TempDir(), mustIssue(t, pool, 10, 3, 38))
	var mu sync.Mutex
	now := network.SlotTime(100*network.SlotsPerKESPeriod - 1) // the last slot of period 99
	cfg.Clock = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	cfg.MetricsAddr = "127.0.0.1:0"
	cfg.LogFormat = LogJSON
	n, log := start(t, cfg)
	if m := readKES(t, n); m != (kesView{1, 38, 100, 99, 1}) {
		t.Fatalf("got %+v at the window's last period, want current 99, remaining 1", m)
	}
	mu.Lock()
	now = now.Add(network.SlotLength)
	mu.Unlock()
	deadline := time.Now().Add(20 * time.Second)
	for readKES(t, n) != (kesView{1, 38, 100, 0, 0}) {
		if time.Now().After(deadline) {
			t.Fatalf("got %+v after the window ended, want current and remaining 0", readKES(t, n))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(log.String(), `"ns":"Forge.Loop.ForgeStateUpdateError"`) || n.State().CanForge {
		t.Errorf("got log %s and can forge %v, want the Critical error and no forging", log, n.State().CanForge)
	}
}
