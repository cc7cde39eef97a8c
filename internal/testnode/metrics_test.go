package testnode

import (
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
)

func buildInfo(release, revision string) string {
	v := strings.Split(release, ".")
	return `{version_major="` + v[0] + `",version_minor="` + v[1] + `",version_patch="` + v[2] + `",version="` + release +
		`",revision="` + revision + `",compiler_name="ghc",compiler_version="9.6",compiler_version_major="9",compiler_version_minor="6",compiler_version_patch="0",architecture="` +
		goarchName() + `",os_name="` + runtime.GOOS + `"}`
}

// The whole exposition, in each system's format, of a node forging with a
// cert from period 98 at a tip in period 100 (start time: fixedLogTime).
func TestMetricsExposition(t *testing.T) {
	pool := mustPool(t, 1)
	const rev105, rev110 = "6c034ec038d8d276a3595e10e2d38643f09bd1f2", "97036a66bcf8c89f687ae57a048eecc0389977ef"
	tests := []struct {
		name string
		set  func(*Config)
		want string
	}{
		{
			name: "new tracing (11.0)",
			set:  func(c *Config) { c.NodeVersion = Version110 },
			want: `# TYPE cardano_node_metrics_RTS_gcLiveBytes_int gauge
cardano_node_metrics_RTS_gcLiveBytes_int 3412345678
# TYPE cardano_node_metrics_forging_enabled_int gauge
cardano_node_metrics_forging_enabled_int 1
# TYPE cardano_node_metrics_Mem_resident_int gauge
cardano_node_metrics_Mem_resident_int 7012345678
# TYPE cardano_node_metrics_operationalCertificateStartKESPeriod_int gauge
cardano_node_metrics_operationalCertificateStartKESPeriod_int 98
# TYPE cardano_node_metrics_remainingKESPeriods_int gauge
cardano_node_metrics_remainingKESPeriods_int 60
# TYPE cardano_node_metrics_cardano_build_info info
cardano_node_metrics_cardano_build_info` + buildInfo("11.0.1", rev110) + ` 1
# TYPE cardano_node_metrics_node_start_time_int gauge
cardano_node_metrics_node_start_time_int 1787659200
# TYPE cardano_node_metrics_basicInfo info
cardano_node_metrics_basicInfo{nodeStartTime="2026-08-25 12:00:00.123456789 UTC"} 1
# TYPE cardano_node_metrics_slotNum_int gauge
cardano_node_metrics_slotNum_int 12964321
# TYPE cardano_node_metrics_blockNum_int gauge
cardano_node_metrics_blockNum_int 648216
# TYPE cardano_node_metrics_epoch_int gauge
cardano_node_metrics_epoch_int 150
# TYPE cardano_node_metrics_currentKESPeriod_int gauge
cardano_node_metrics_currentKESPeriod_int 100
# TYPE cardano_node_metrics_operationalCertificateExpiryKESPeriod_int gauge
cardano_node_metrics_operationalCertificateExpiryKESPeriod_int 160
# EOF
`,
		},
		{
			name: "legacy tracing (10.5's default)",
			set:  func(c *Config) { c.NodeVersion = Version105 },
			want: `rts_gc_bytes_allocated 81234567890
rts_gc_num_gcs 51234
cardano_node_metrics_forging_enabled 1
cardano_node_metrics_operationalCertificateStartKESPeriod_int 98
cardano_node_metrics_remainingKESPeriods_int 60
cardano_node_metrics_cardano_build_info ` + buildInfo("10.5.3", rev105) + ` 1
cardano_node_metrics_nodeStartTime_int 1787659200
cardano_node_metrics_slotNum_int 12964321
cardano_node_metrics_blockNum_int 648216
cardano_node_metrics_epoch_int 150
cardano_node_metrics_currentKESPeriod_int 100
cardano_node_metrics_operationalCertificateExpiryKESPeriod_int 160
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mustWrite(t, pool, t.TempDir(), mustIssue(t, pool, 10, 3, 98))
			tt.set(&cfg)
			n, _ := start(t, cfg)
			if got := n.Metrics(); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestMetricNamesBySystem(t *testing.T) {
	pool := mustPool(t, 1)
	tests := []struct {
		name    string
		set     func(*Config)
		want    []string
		notWant []string
	}{
		{"new", func(c *Config) {}, []string{MetricForgingEnabledInt, MetricCurrentKESPeriod, MetricRemainingKES, MetricCertStartPeriod, MetricCertExpiryPeriod, MetricSlotNum},
			[]string{MetricForgingEnabled, "cardano_node_metrics_operationalCertificateCounter_int"}},
		{"new nosuffix", func(c *Config) { c.MetricsNoSuffix = true },
			[]string{MetricForgingEnabled, "cardano_node_metrics_currentKESPeriod", "cardano_node_metrics_remainingKESPeriods",
				"cardano_node_metrics_operationalCertificateStartKESPeriod", "cardano_node_metrics_operationalCertificateExpiryKESPeriod"},
			[]string{MetricForgingEnabledInt, MetricCurrentKESPeriod}},
		{"legacy (nosuffix does not apply)", func(c *Config) { c.Tracing = TracingLegacy; c.MetricsNoSuffix = true },
			[]string{MetricForgingEnabled, MetricCurrentKESPeriod, MetricRemainingKES, MetricCertStartPeriod, MetricCertExpiryPeriod, MetricSlotNum},
			[]string{MetricForgingEnabledInt}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mustWrite(t, pool, t.TempDir(), mustIssue(t, pool, 10, 3, 98))
			cfg.MetricsAddr = "127.0.0.1:0"
			tt.set(&cfg)
			n, _ := start(t, cfg)
			m := scrape(t, n.MetricsURL())
			for _, name := range tt.want {
				if _, ok := m[name]; !ok {
					t.Errorf("got %v, want %s", m, name)
				}
			}
			for _, name := range tt.notWant {
				if _, ok := m[name]; ok {
					t.Errorf("got %s, want no such metric", name)
				}
			}
		})
	}
}

func TestMetricsHTTP(t *testing.T) {
	pool := mustPool(t, 1)
	tests := []struct {
		tracing, path, accept string
		wantStatus            int
		wantType              []string
	}{
		{TracingNew, "/metrics", "", 200, []string{contentTypePrometheus}},
		{TracingNew, "/metrics", "application/openmetrics-text", 200, []string{contentTypeOpenMetrics}},
		{TracingNew, "/metrics", "image/png", 415, []string{contentTypeTextPlainError}},
		{TracingNew, "/", "", 404, []string{contentTypeTextPlainError}},
		{TracingLegacy, "/", "", 200, nil},
		{TracingLegacy, "/metrics", "", 200, nil},
	}
	nodes := map[string]*Node{}
	for _, tr := range []string{TracingNew, TracingLegacy} {
		cfg := mustWrite(t, pool, t.TempDir(), mustIssue(t, pool, 10, 3, 98))
		cfg.Tracing, cfg.MetricsAddr = tr, "127.0.0.1:0"
		nodes[tr], _ = start(t, cfg)
	}
	for _, tt := range tests {
		t.Run(tt.tracing+tt.path+tt.accept, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, "http://"+nodes[tt.tracing].MetricsAddr()+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.accept != "" {
				req.Header.Set("Accept", tt.accept)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = resp.Body.Close() }()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus || strings.Join(resp.Header.Values("Content-Type"), ",") != strings.Join(tt.wantType, ",") {
				t.Errorf("got %d %q (%.40q), want %d %q", resp.StatusCode, resp.Header.Values("Content-Type"), body, tt.wantStatus, tt.wantType)
			}
		})
	}
}
