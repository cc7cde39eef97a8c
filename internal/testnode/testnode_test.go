package testnode

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blinklabs-io/gouroboros/cbor"
	"github.com/blinklabs-io/gouroboros/kes"

	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/opcert"
)

// The tests run on preview (no Byron era) at a tip in KES period 100.
var (
	network = opcert.Preview
	tipSlot = 100*network.SlotsPerKESPeriod + 4321
)

// syncBuffer collects log lines written from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func mustPool(t *testing.T, seed byte) *Pool {
	t.Helper()
	p, err := NewPool(seed)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustIssue(t *testing.T, p *Pool, kesSeed byte, counter, period uint64) *Set {
	t.Helper()
	s, err := p.Issue(kesSeed, counter, period)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustWrite(t *testing.T, p *Pool, dir string, s *Set) Config {
	t.Helper()
	cfg, err := p.WriteSet(dir, s)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Network = network
	cfg.TipSlot = tipSlot
	return cfg
}

func start(t *testing.T, cfg Config) (*Node, *syncBuffer) {
	t.Helper()
	log := &syncBuffer{}
	cfg.Log = log
	n, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Start: %v\nlog:\n%s", err, log)
	}
	t.Cleanup(func() { _ = n.Close() })
	return n, log
}

func writeEnvelope(t *testing.T, path, typ string, payload []byte) {
	t.Helper()
	cb, err := cbor.Encode(payload)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, (&keys.Envelope{Type: typ, CBOR: cb}).Marshal(), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestStartValidatesLikeTheNode(t *testing.T) {
	pool := mustPool(t, 1)
	other := mustPool(t, 2)
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string) Config
		wantErr []error // all must match; nil means it starts
		wantLog string
	}{
		{
			name: "good set",
			setup: func(t *testing.T, dir string) Config {
				return mustWrite(t, pool, dir, mustIssue(t, pool, 10, 3, 98))
			},
		},
		{
			name: "VRF key with group read only warns",
			setup: func(t *testing.T, dir string) Config {
				cfg := mustWrite(t, pool, dir, mustIssue(t, pool, 10, 3, 98))
				if err := os.Chmod(cfg.VRFKeyPath, 0o640); err != nil {
					t.Fatal(err)
				}
				return cfg
			},
			wantLog: `has "group" file permissions`,
		},
		{
			name: "VRF key readable by others refuses to start",
			setup: func(t *testing.T, dir string) Config {
				cfg := mustWrite(t, pool, dir, mustIssue(t, pool, 10, 3, 98))
				if err := os.Chmod(cfg.VRFKeyPath, 0o604); err != nil {
					t.Fatal(err)
				}
				return cfg
			},
			wantErr: []error{ErrVRFPermissions},
		},
		{
			name: "KES key is not the cert's",
			setup: func(t *testing.T, dir string) Config {
				cfg := mustWrite(t, pool, dir, mustIssue(t, pool, 10, 3, 98))
				wrong := mustIssue(t, pool, 11, 3, 98)
				if err := os.WriteFile(cfg.KESKeyPath, wrong.KES.MarshalEnvelope(), 0o600); err != nil {
					t.Fatal(err)
				}
				return cfg
			},
			wantErr: []error{ErrKESMismatch},
		},
		{
			name: "cert signed by another cold key",
			setup: func(t *testing.T, dir string) Config {
				s := mustIssue(t, pool, 10, 3, 98)
				s.Cert.Cold = other.Cold.Public()
				return mustWrite(t, pool, dir, s)
			},
			wantErr: []error{ErrCertSignature, opcert.ErrBadSignature},
		},
		{
			name: "expired cert",
			setup: func(t *testing.T, dir string) Config {
				return mustWrite(t, pool, dir, mustIssue(t, pool, 10, 3, 100-network.MaxKESEvolutions))
			},
			wantErr: []error{ErrKESWindow, opcert.ErrKESAfterEnd},
		},
		{
			name: "cert from a future period",
			setup: func(t *testing.T, dir string) Config {
				return mustWrite(t, pool, dir, mustIssue(t, pool, 10, 3, 101))
			},
			wantErr: []error{ErrKESWindow, opcert.ErrKESBeforeStart},
		},
		{
			name: "evolved KES key",
			setup: func(t *testing.T, dir string) Config {
				s := mustIssue(t, pool, 10, 3, 98)
				cfg := mustWrite(t, pool, dir, s)
				next, err := kes.Update(&kes.SecretKey{Depth: keys.KESDepth, Data: s.KES.Raw()})
				if err != nil {
					t.Fatal(err)
				}
				writeEnvelope(t, cfg.KESKeyPath, keys.TypeKESSigningKey, next.Data)
				return cfg
			},
			wantErr: []error{ErrCredentialFile, keys.ErrEvolvedKES},
		},
		{
			name: "op cert file is not a cert",
			setup: func(t *testing.T, dir string) Config {
				cfg := mustWrite(t, pool, dir, mustIssue(t, pool, 10, 3, 98))
				if err := os.WriteFile(cfg.CertPath, pool.Cold.Public().MarshalEnvelope(), 0o644); err != nil {
					t.Fatal(err)
				}
				return cfg
			},
			wantErr: []error{ErrCredentialFile, keys.ErrType},
		},
		{
			name: "missing cert",
			setup: func(t *testing.T, dir string) Config {
				cfg := mustWrite(t, pool, dir, mustIssue(t, pool, 10, 3, 98))
				if err := os.Remove(cfg.CertPath); err != nil {
					t.Fatal(err)
				}
				return cfg
			},
			wantErr: []error{ErrMissingCredential},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.setup(t, t.TempDir())
			log := &syncBuffer{}
			cfg.Log = log
			n, err := Start(context.Background(), cfg)
			if tt.wantErr != nil {
				if err == nil {
					_ = n.Close()
					t.Fatalf("Start succeeded, want %v", tt.wantErr)
				}
				for _, want := range tt.wantErr {
					if !errors.Is(err, want) {
						t.Errorf("got error %v, want one wrapping %v", err, want)
					}
				}
				if !strings.Contains(log.String(), ":Error:") {
					t.Errorf("got log %q, want an error trace", log)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want a running node", err)
			}
			defer func() { _ = n.Close() }()
			s := n.State()
			want := State{
				Forging: true, Loaded: true, PoolID: pool.ID(), CertCounter: 3,
				StartPeriod: 98, ExpiryPeriod: 98 + network.MaxKESEvolutions, TipSlot: tipSlot,
				CurrentPeriod: 100, RemainingPeriods: int64(98+network.MaxKESEvolutions) - 100, Evolution: 2, Sets: 1,
			}
			s.KESVKey, s.VRFVKey, s.CertHash = keys.KESVKey{}, keys.VRFVKey{}, ""
			if s != want {
				t.Errorf("got state %+v, want %+v", s, want)
			}
			if !strings.Contains(log.String(), "Enabling block forging") {
				t.Errorf("got log %q, want it to say forging is enabled", log)
			}
			if tt.wantLog != "" && !strings.Contains(log.String(), tt.wantLog) {
				t.Errorf("got log %q, want %q in it", log, tt.wantLog)
			}
		})
	}
}

func TestStartNonProducing(t *testing.T) {
	pool := mustPool(t, 1)
	cfg := mustWrite(t, pool, t.TempDir(), mustIssue(t, pool, 10, 3, 98))
	if err := os.Remove(cfg.KESKeyPath); err != nil {
		t.Fatal(err)
	}
	cfg.StartNonProducing = true
	n, _ := start(t, cfg)
	if s := n.State(); s.Forging || s.Loaded {
		t.Fatalf("got state %+v, want not forging and nothing loaded", s)
	}
	if _, err := pool.WriteSet(filepath.Dir(cfg.CertPath), mustIssue(t, pool, 10, 3, 98)); err != nil {
		t.Fatal(err)
	}
	if o, err := n.Reload(); o != Enabled || err != nil {
		t.Fatalf("got Reload %v, %v, want enabled", o, err)
	}
	if s := n.State(); !s.Forging || s.CertCounter != 3 {
		t.Fatalf("got state %+v, want forging with counter 3", s)
	}
}

func TestReloadFollowsTheNodesRules(t *testing.T) {
	pool := mustPool(t, 1)
	dir := t.TempDir()
	cfg := mustWrite(t, pool, dir, mustIssue(t, pool, 10, 3, 98))
	cfg.MetricsAddr = "127.0.0.1:0"
	n, log := start(t, cfg)

	type want struct {
		outcome Outcome
		err     error
		forging bool
		counter uint64
		start   uint64
		sets    int
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
			want:   want{Enabled, nil, true, 3, 98, 2, "Enabling block forging"},
		},
		{
			name: "missing cert disables forging",
			change: func(t *testing.T) {
				if err := os.Remove(cfg.CertPath); err != nil {
					t.Fatal(err)
				}
			},
			want: want{Disabled, ErrMissingCredential, false, 3, 98, 2, "Disabling block forging"},
		},
		{
			name: "new good set enables forging with it",
			change: func(t *testing.T) {
				mustWrite(t, pool, dir, mustIssue(t, pool, 20, 4, 100))
			},
			want: want{Enabled, nil, true, 4, 100, 3, "Enabling block forging"},
		},
		{
			name: "mismatched KES key keeps the old set",
			change: func(t *testing.T) {
				s := mustIssue(t, pool, 30, 5, 100)
				s.KES = mustIssue(t, pool, 31, 5, 100).KES
				mustWrite(t, pool, dir, s)
			},
			want: want{Kept, ErrKESMismatch, true, 4, 100, 3, "BlockForgingUpdateError"},
		},
		{
			name: "VRF key readable by others keeps the old set",
			change: func(t *testing.T) {
				mustWrite(t, pool, dir, mustIssue(t, pool, 40, 5, 100))
				if err := os.Chmod(cfg.VRFKeyPath, 0o644); err != nil {
					t.Fatal(err)
				}
			},
			want: want{Kept, ErrVRFPermissions, true, 4, 100, 3, "BlockForgingUpdateError"},
		},
		{
			name: "fixed permissions take the new set",
			change: func(t *testing.T) {
				if err := os.Chmod(cfg.VRFKeyPath, 0o600); err != nil {
					t.Fatal(err)
				}
			},
			want: want{Enabled, nil, true, 5, 100, 4, "Enabling block forging"},
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
			if s.Forging != st.want.forging || s.CertCounter != st.want.counter || s.StartPeriod != st.want.start || s.Sets != st.want.sets {
				t.Errorf("got forging %v counter %d start %d sets %d, want %v %d %d %d",
					s.Forging, s.CertCounter, s.StartPeriod, s.Sets, st.want.forging, st.want.counter, st.want.start, st.want.sets)
			}
			if got := log.String()[before:]; !strings.Contains(got, st.want.log) {
				t.Errorf("got new log lines %q, want %q in them", got, st.want.log)
			}
			m := scrape(t, n.MetricsURL())
			forging := 0.0
			if st.want.forging {
				forging = 1
			}
			for name, v := range map[string]float64{
				MetricForgingEnabled:  forging,
				MetricCertCounter:     float64(st.want.counter),
				MetricCertStartPeriod: float64(st.want.start),
			} {
				if m[name] != v {
					t.Errorf("got metric %s = %v, want %v", name, m[name], v)
				}
			}
		})
	}
}

func TestReloadRejectedOrNotEffective(t *testing.T) {
	pool := mustPool(t, 1)
	tests := []struct {
		name    string
		set     func(*Config)
		outcome Outcome
		err     error
	}{
		{"node rejects every set", func(c *Config) { c.RejectReload = true }, Kept, ErrRejected},
		{"consensus not up yet", func(c *Config) { c.NotEffective = true }, Ignored, ErrNotEffective},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := mustWrite(t, pool, dir, mustIssue(t, pool, 10, 3, 98))
			tt.set(&cfg)
			n, _ := start(t, cfg)
			mustWrite(t, pool, dir, mustIssue(t, pool, 20, 4, 100))
			o, err := n.Reload()
			if o != tt.outcome || !errors.Is(err, tt.err) {
				t.Errorf("got %v, %v, want %v, %v", o, err, tt.outcome, tt.err)
			}
			if s := n.State(); !s.Forging || s.CertCounter != 3 {
				t.Errorf("got forging %v with counter %d, want the old set (3) still forging", s.Forging, s.CertCounter)
			}
		})
	}
}

func TestMetricsNames(t *testing.T) {
	pool := mustPool(t, 1)
	for _, nosuffix := range []bool{false, true} {
		t.Run("nosuffix="+strconv.FormatBool(nosuffix), func(t *testing.T) {
			cfg := mustWrite(t, pool, t.TempDir(), mustIssue(t, pool, 10, 3, 98))
			cfg.MetricsAddr = "127.0.0.1:0"
			cfg.MetricsNoSuffix = nosuffix
			n, _ := start(t, cfg)
			m := scrape(t, n.MetricsURL())
			want := map[string]float64{
				"cardano_node_metrics_currentKESPeriod_int":                      100,
				"cardano_node_metrics_remainingKESPeriods_int":                   60,
				"cardano_node_metrics_operationalCertificateStartKESPeriod_int":  98,
				"cardano_node_metrics_operationalCertificateExpiryKESPeriod_int": 160,
				"cardano_node_metrics_operationalCertificateCounter_int":         3,
				"cardano_node_metrics_slotNum_int":                               float64(tipSlot),
				"cardano_node_metrics_forging_enabled":                           1,
			}
			if nosuffix {
				w := make(map[string]float64)
				for k, v := range want {
					w[strings.TrimSuffix(k, "_int")] = v
				}
				want = w
			}
			if len(m) != len(want) {
				t.Errorf("got %d metrics %v, want %d", len(m), m, len(want))
			}
			for k, v := range want {
				if got, ok := m[k]; !ok || got != v {
					t.Errorf("got %s = %v (present %v), want %v", k, got, ok, v)
				}
			}
		})
	}
}

func TestTipFollowsTheClock(t *testing.T) {
	pool := mustPool(t, 1)
	cfg := mustWrite(t, pool, t.TempDir(), mustIssue(t, pool, 10, 3, 98))
	at := network.SlotTime(tipSlot)
	cfg.Clock = func() time.Time { return at }
	n, _ := start(t, cfg)
	if s := n.State(); s.TipSlot != tipSlot || s.Evolution != 2 {
		t.Errorf("got tip %d evolution %d, want %d and 2", s.TipSlot, s.Evolution, tipSlot)
	}
	n.SetTipSlot(99 * network.SlotsPerKESPeriod)
	if s := n.State(); s.CurrentPeriod != 99 || s.Evolution != 1 || s.RemainingPeriods != 61 {
		t.Errorf("got period %d evolution %d remaining %d, want 99, 1, 61", s.CurrentPeriod, s.Evolution, s.RemainingPeriods)
	}
}

func TestSecretsStayOutOfLogsAndState(t *testing.T) {
	pool := mustPool(t, 1)
	s := mustIssue(t, pool, 10, 3, 98)
	cfg := mustWrite(t, pool, t.TempDir(), s)
	n, log := start(t, cfg)
	_, _ = n.Reload()
	raw := s.KES.Raw()
	seed := pool.VRF.Seed()
	for _, secret := range [][]byte{raw[:32], seed} {
		for _, enc := range []string{string(secret), strings.ToLower(strings.TrimSpace(hexOf(secret)))} {
			if strings.Contains(log.String(), enc) {
				t.Fatalf("the log holds secret key material")
			}
		}
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// scrape reads a Prometheus text endpoint into name → value.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("got status %s, want 200", resp.Status)
	}
	m := make(map[string]float64)
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 1<<20))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, val, ok := strings.Cut(line, " ")
		if !ok {
			t.Fatalf("got metrics line %q, want name and value", line)
		}
		v, err := strconv.ParseFloat(val, 64)
		if err != nil {
			t.Fatalf("got metrics line %q: %v", line, err)
		}
		m[name] = v
	}
	return m
}
