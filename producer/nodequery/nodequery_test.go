package nodequery

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kesrotate/kesrotate/internal/testnode"
	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/opcert"
)

// shortSocket returns a socket path short enough for the 107-byte limit of
// unix socket paths (t.TempDir() paths can be longer).
func shortSocket(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "tn")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return filepath.Join(dir, "node.socket")
}

type fixture struct {
	node  *testnode.Node
	pool  *testnode.Pool
	other *testnode.Pool
	net   opcert.Network
	tip   uint64
}

func startNode(t *testing.T, n opcert.Network, onchain map[keys.PoolID]uint64) *fixture {
	t.Helper()
	return startNodeWith(t, n, onchain, func(*testnode.Config) {})
}

// startNodeWith starts a test node whose config edit may change.
func startNodeWith(t *testing.T, n opcert.Network, onchain map[keys.PoolID]uint64, edit func(*testnode.Config)) *fixture {
	t.Helper()
	pool, err := testnode.NewPool(1)
	if err != nil {
		t.Fatal(err)
	}
	other, err := testnode.NewPool(2)
	if err != nil {
		t.Fatal(err)
	}
	tip := 200*n.SlotsPerKESPeriod + 17
	set, err := pool.Issue(9, 4, 199)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pool.WriteSet(t.TempDir(), set)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Network = n
	cfg.TipSlot = tip
	cfg.SocketPath = shortSocket(t)
	cfg.MetricsAddr = "127.0.0.1:0"
	cfg.OnChain = map[keys.PoolID]uint64{}
	for id, c := range onchain {
		cfg.OnChain[id] = c
	}
	edit(&cfg)
	node, err := testnode.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = node.Close() })
	return &fixture{node: node, pool: pool, other: other, net: n, tip: tip}
}

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestQueryAgainstTheTestNode(t *testing.T) {
	for _, n := range []opcert.Network{opcert.Mainnet, opcert.Preprod, opcert.Preview} {
		t.Run(n.Name, func(t *testing.T) {
			pool, _ := testnode.NewPool(1)
			f := startNode(t, n, map[keys.PoolID]uint64{pool.ID(): 3})
			tests := []struct {
				name string
				pool keys.PoolID
				want opcert.OnChain
			}{
				{"known pool", f.pool.ID(), opcert.Recorded(3)},
				{"unknown pool", f.other.ID(), opcert.None()},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					s, err := Query(ctx(t), f.node.SocketPath(), n.Magic, tt.pool)
					if err != nil {
						t.Fatalf("Query: %v", err)
					}
					if s.TipSlot != f.tip {
						t.Errorf("got tip slot %d, want %d", s.TipSlot, f.tip)
					}
					if len(s.TipHash) != 32 {
						t.Errorf("got a tip hash of %d bytes, want 32", len(s.TipHash))
					}
					if !s.SystemStart.Equal(n.SystemStart) {
						t.Errorf("got system start %s, want %s", s.SystemStart, n.SystemStart)
					}
					if s.NetworkMagic != n.Magic || s.SlotsPerKESPeriod != n.SlotsPerKESPeriod || s.MaxKESEvolutions != n.MaxKESEvolutions {
						t.Errorf("got magic %d, %d slots per period, %d evolutions, want %d, %d, %d",
							s.NetworkMagic, s.SlotsPerKESPeriod, s.MaxKESEvolutions, n.Magic, n.SlotsPerKESPeriod, n.MaxKESEvolutions)
					}
					if s.KESPeriod() != 200 {
						t.Errorf("got KES period %d, want 200", s.KESPeriod())
					}
					if s.OnChain != tt.want {
						t.Errorf("got on-chain counter %v, want %v", s.OnChain, tt.want)
					}
					if err := s.CheckNetwork(n); err != nil {
						t.Errorf("CheckNetwork(%s): %v", n.Name, err)
					}
				})
			}
		})
	}
}

// Every modelled node version: the handshake agrees on the highest common
// version, and the agent reads that version's layouts (Praos state with 7
// or 8 fields, GetGenesisConfig with 18 or 17 protocol-parameter fields)
// from a mainnet-sized counters map that spans several mux segments.
func TestQueryEveryNodeVersion(t *testing.T) {
	tests := []struct {
		version string
		ntc     uint16
		fields  int
		layout  string
	}{
		{testnode.Version105, 20, 7, "15+18"},
		{testnode.Version106, 22, 7, "15+17"},
		{testnode.Version110, 23, 8, "15+17"},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			pool, _ := testnode.NewPool(1)
			f := startNodeWith(t, opcert.Mainnet, map[keys.PoolID]uint64{pool.ID(): 12}, func(c *testnode.Config) {
				c.NodeVersion, c.FillerPools = tt.version, 4000
			})
			s, err := Query(ctx(t), f.node.SocketPath(), opcert.Mainnet.Magic, f.pool.ID())
			if err != nil {
				t.Fatalf("Query: %v", err)
			}
			if s.NodeToClientVersion != tt.ntc || s.PraosFields != tt.fields || s.GenesisLayout != tt.layout || s.EraName != "Conway" {
				t.Errorf("got version %d, %d fields, layout %s, era %s; want %d, %d, %s, Conway",
					s.NodeToClientVersion, s.PraosFields, s.GenesisLayout, s.EraName, tt.ntc, tt.fields, tt.layout)
			}
			if s.OnChain != opcert.Recorded(12) || s.TipSlot != f.tip || s.CheckNetwork(opcert.Mainnet) != nil {
				t.Errorf("got counter %v at slot %d (network %v), want 12 at %d", s.OnChain, s.TipSlot, s.CheckNetwork(opcert.Mainnet), f.tip)
			}
		})
	}
}

func TestQuerySyncingNode(t *testing.T) {
	t.Run("still in Byron", func(t *testing.T) {
		f := startNodeWith(t, opcert.Preprod, nil, func(c *testnode.Config) { c.Era = "Byron" })
		_, err := Query(ctx(t), f.node.SocketPath(), opcert.Preprod.Magic, f.pool.ID())
		if !errors.Is(err, ErrSyncing) || !strings.Contains(err.Error(), "Byron") {
			t.Errorf("got %v, want ErrSyncing naming Byron", err)
		}
	})
	t.Run("tip behind the clock", func(t *testing.T) {
		now := time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)
		f := startNodeWith(t, opcert.Preprod, nil, func(c *testnode.Config) {
			c.Clock, c.TipLag = func() time.Time { return now }, 3*time.Hour
		})
		s, err := Query(ctx(t), f.node.SocketPath(), opcert.Preprod.Magic, f.pool.ID())
		if err != nil {
			t.Fatal(err)
		}
		err = s.CheckSynced(opcert.Preprod, now, 0)
		if !errors.Is(err, ErrSyncing) || !strings.Contains(err.Error(), "3h behind the clock") {
			t.Errorf("got %v, want ErrSyncing 3h behind", err)
		}
		if err := s.CheckSynced(opcert.Preprod, now, 4*time.Hour); err != nil {
			t.Errorf("with a 4h allowance: %v", err)
		}
	})
}

func TestQuerySeesChanges(t *testing.T) {
	f := startNode(t, opcert.Preview, nil)
	s, err := Query(ctx(t), f.node.SocketPath(), f.net.Magic, f.pool.ID())
	if err != nil {
		t.Fatal(err)
	}
	if s.OnChain != opcert.None() {
		t.Fatalf("got %v, want none", s.OnChain)
	}
	f.node.SetOnChainCounter(f.pool.ID(), 4)
	f.node.SetTipSlot(f.tip + 1000)
	s, err = Query(ctx(t), f.node.SocketPath(), f.net.Magic, f.pool.ID())
	if err != nil {
		t.Fatal(err)
	}
	if s.OnChain != opcert.Recorded(4) || s.TipSlot != f.tip+1000 {
		t.Errorf("got counter %v at slot %d, want 4 at %d", s.OnChain, s.TipSlot, f.tip+1000)
	}
}

func TestQueryFailures(t *testing.T) {
	f := startNode(t, opcert.Preview, nil)
	t.Run("wrong magic", func(t *testing.T) {
		_, err := Query(ctx(t), f.node.SocketPath(), opcert.Mainnet.Magic, f.pool.ID())
		var mm *MagicMismatchError
		if !errors.As(err, &mm) || mm.Node != opcert.Preview.Magic || mm.Want != opcert.Mainnet.Magic {
			t.Errorf("got %v, want the node's refusal naming magic %d", err, opcert.Preview.Magic)
		}
	})
	t.Run("no socket", func(t *testing.T) {
		_, err := Query(ctx(t), filepath.Join(filepath.Dir(f.node.SocketPath()), "absent.socket"), f.net.Magic, f.pool.ID())
		if !errors.Is(err, ErrConnect) {
			t.Errorf("got %v, want ErrConnect", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		c, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := Query(c, f.node.SocketPath(), f.net.Magic, f.pool.ID())
		if !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want context.Canceled", err)
		}
	})
	t.Run("silent socket", func(t *testing.T) {
		path := shortSocket(t)
		ln, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = ln.Close() }()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer func() { _ = c.Close() }()
			}
		}()
		c, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		_, err = Query(c, path, f.net.Magic, f.pool.ID())
		if !errors.Is(err, ErrConnect) {
			t.Errorf("got %v, want ErrConnect", err)
		}
	})
	t.Run("other network", func(t *testing.T) {
		s, err := Query(ctx(t), f.node.SocketPath(), f.net.Magic, f.pool.ID())
		if err != nil {
			t.Fatal(err)
		}
		custom := opcert.Preview
		custom.SlotsPerKESPeriod = 86400
		for _, n := range []opcert.Network{opcert.Preprod, custom} {
			if err := s.CheckNetwork(n); !errors.Is(err, ErrNetworkMismatch) {
				t.Errorf("CheckNetwork(%s %d): got %v, want ErrNetworkMismatch", n.Name, n.SlotsPerKESPeriod, err)
			}
		}
	})
}

func TestMetricsFromTheTestNode(t *testing.T) {
	f := startNode(t, opcert.Preview, nil)
	m, err := Metrics(ctx(t), f.node.MetricsURL())
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{
		MetricCurrentKESPeriod: 200,
		MetricRemainingKES:     199 + 62 - 200,
		MetricCertStartPeriod:  199,
		MetricCertExpiryPeriod: 199 + 62,
		MetricForgingEnabled:   1,
	} {
		if got, ok := m.Lookup(name); !ok || got != want {
			t.Errorf("got %s = %v (present %v), want %v", name, got, ok, want)
		}
	}
	if _, err := Metrics(ctx(t), strings.TrimSuffix(f.node.MetricsURL(), "/metrics")+"/nothing"); !errors.Is(err, ErrMetrics) {
		t.Errorf("got %v for a 404, want ErrMetrics", err)
	}
}

// The two dialects cardano-node serves (node.md): the new tracing
// system's PrometheusSimple backend and the legacy EKG bridge, with the
// labelled build-info line each writes.
const (
	newTracingScrape = `# TYPE cardano_node_metrics_cardano_build_info gauge
cardano_node_metrics_cardano_build_info{version="10.6.4",revision="0123abcd",ghc_version="9.6",os="linux",arch="x86_64"} 1
# TYPE cardano_node_metrics_currentKESPeriod_int gauge
cardano_node_metrics_currentKESPeriod_int 812
# TYPE cardano_node_metrics_forging_enabled_int gauge
cardano_node_metrics_forging_enabled_int 1
# TYPE rts_gc_par_tot_bytes_copied counter
rts_gc_par_tot_bytes_copied 1.2345e+09
# EOF
`
	legacyScrape = `cardano_node_metrics_cardano_build_info {version="10.5.3",revision="0123abcd",ghc_version="9.6",os="linux",arch="x86_64"} 1
cardano_node_metrics_currentKESPeriod_int 812
cardano_node_metrics_forging_enabled 1
rts_gc_max_bytes_used 5.0e7
`
)

func TestParseMetrics(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    map[string]float64
		format  string
		skipped int
		wantErr bool
	}{
		{
			name: "new tracing", in: newTracingScrape, format: FormatNew,
			want: map[string]float64{
				`cardano_node_metrics_cardano_build_info{version="10.6.4",revision="0123abcd",ghc_version="9.6",os="linux",arch="x86_64"}`: 1,
				"cardano_node_metrics_currentKESPeriod_int": 812, "cardano_node_metrics_forging_enabled_int": 1, "rts_gc_par_tot_bytes_copied": 1.2345e9,
			},
		},
		{
			name: "legacy tracing: a space before the labels", in: legacyScrape, format: FormatLegacy,
			want: map[string]float64{
				`cardano_node_metrics_cardano_build_info{version="10.5.3",revision="0123abcd",ghc_version="9.6",os="linux",arch="x86_64"}`: 1,
				"cardano_node_metrics_currentKESPeriod_int": 812, "cardano_node_metrics_forging_enabled": 1, "rts_gc_max_bytes_used": 5e7,
			},
		},
		{
			name: "timestamps, escaped quotes and braces in labels", format: FormatLegacy,
			in:   "a_b 1 1712345678000\nrts_gc{kind=\"major \\\"}\\\" gc\"} 2.5\n",
			want: map[string]float64{"a_b": 1, `rts_gc{kind="major \"}\" gc"}`: 2.5},
		},
		{
			name: "lines that are not samples are skipped, never fatal", format: FormatLegacy, skipped: 5,
			in:   "cardano_node_metrics_currentKESPeriod_int\na_b twelve\n9lives 1\na{b=\"c\" 1\nx 1 2 3\ncardano_node_metrics_remainingKESPeriods_int 61\n",
			want: map[string]float64{"cardano_node_metrics_remainingKESPeriods_int": 61},
		},
		{name: "no sample at all", in: "<html>404</html>\n", wantErr: true},
		{name: "empty", in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMetrics(strings.NewReader(tt.in))
			if tt.wantErr {
				if !errors.Is(err, ErrMetrics) {
					t.Fatalf("got %v, %v, want ErrMetrics", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Samples) != len(tt.want) {
				t.Errorf("got %v, want %v", got.Samples, tt.want)
			}
			for k, v := range tt.want {
				if g, ok := got.Samples[k]; !ok || g != v {
					t.Errorf("got %s = %v (present %v), want %v", k, g, ok, v)
				}
			}
			if got.Format != tt.format || got.Skipped != tt.skipped {
				t.Errorf("got format %q, %d skipped, want %q, %d", got.Format, got.Skipped, tt.format, tt.skipped)
			}
		})
	}
}

func TestLookupBothModes(t *testing.T) {
	for _, m := range []map[string]float64{
		{"cardano_node_metrics_currentKESPeriod_int": 7},
		{"cardano_node_metrics_currentKESPeriod": 7},
	} {
		for _, name := range []string{MetricCurrentKESPeriod, MetricCurrentKESPeriod + "_int"} {
			if v, ok := Lookup(m, name); !ok || v != 7 {
				t.Errorf("Lookup(%v, %s) = %v, %v, want 7, true", m, name, v, ok)
			}
		}
	}
	for _, in := range []string{newTracingScrape, legacyScrape} {
		s, err := ParseMetrics(strings.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := s.Lookup(MetricForgingEnabled); !ok || v != 1 {
			t.Errorf("got forging_enabled %v, %v from %s, want 1", v, ok, s.Format)
		}
	}
	if _, ok := Lookup(map[string]float64{}, MetricCertStartPeriod); ok {
		t.Errorf("got a value from an empty scrape, want none")
	}
}

func FuzzParseMetrics(f *testing.F) {
	f.Add("# TYPE cardano_node_metrics_currentKESPeriod_int gauge\ncardano_node_metrics_currentKESPeriod_int 812\n")
	f.Add("rts_gc{kind=\"major gc\"} 2.5 1712345678000\n")
	f.Add("a{b=\"}\"} NaN\n")
	f.Add(newTracingScrape)
	f.Add(legacyScrape)
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMetrics(strings.NewReader(s))
		if err != nil && !errors.Is(err, ErrMetrics) {
			t.Fatalf("got an unwrapped error %v", err)
		}
		if err == nil && (m == nil || len(m.Samples) == 0) {
			t.Fatal("got no samples without an error")
		}
	})
}
