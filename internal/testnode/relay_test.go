package testnode

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// relayConfig is a node without credentials.
func relayConfig(version string) Config {
	return Config{Network: network, TipSlot: tipSlot, NodeVersion: version,
		LogClock: func() time.Time { return fixedLogTime }, TraceOptions: map[string]string{"Startup": "Info"}}
}

// since returns the log written after mark.
func since(log *syncBuffer, mark int) string { return log.String()[mark:] }

// inOrder says whether the texts occur in s one after the other.
func inOrder(s string, texts ...string) bool {
	for _, t := range texts {
		i := strings.Index(s, t)
		if i < 0 {
			return false
		}
		s = s[i+len(t):]
	}
	return true
}

// A node started without credential paths is a relay: no block forging at
// start nor after SIGHUP (updateBlockForging finds no credentials and
// traces DisabledBlockForging), forging_enabled 0 and no KES gauges.
func TestRelayHasNoBlockForging(t *testing.T) {
	for _, version := range Versions {
		t.Run(version, func(t *testing.T) {
			cfg := relayConfig(version)
			cfg.MetricsAddr = "127.0.0.1:0"
			n, log := start(t, cfg)
			check := func(when string) {
				t.Helper()
				if s := n.State(); s.Forging || s.Loaded || s.CanForge || s.CannotForge != "no credentials" {
					t.Errorf("%s: got %+v, want a node without credentials", when, s)
				}
				m := scrape(t, n.MetricsURL())
				forging, ok := m[MetricForgingEnabledInt]
				if nodeVersions[version].tracing == TracingLegacy {
					forging, ok = m[MetricForgingEnabled]
				}
				if _, kes := m[MetricCertStartPeriod]; !ok || forging != 0 || kes {
					t.Errorf("%s: got metrics %v, want forging_enabled 0 and no KES gauges", when, m)
				}
			}
			check("at start")
			if !inOrder(log.String(), "shelleyKESFile = Nothing, shelleyVRFFile = Nothing, shelleyCertFile = Nothing", "Disabling block forging") {
				t.Errorf("got start log\n%s\nwant the configuration without files, then forging disabled", log)
			}
			mark := len(log.String())
			if o, err := n.Reload(); o != Disabled || err != nil {
				t.Fatalf("got %v, %v, want disabled, nil", o, err)
			}
			check("after SIGHUP")
			if got := since(log, mark); !inOrder(got, "Disabling block forging", "Performing topology configuration update") {
				t.Errorf("got new log lines\n%s\nwant forging disabled, then the topology update", got)
			}
		})
	}
}

// Credential paths come all three or not at all: a partial set stops the
// node with readLeaderCredentialsSingleton's error (after the VRF mode
// check, which runs whenever a VRF path is given).
func TestPartialCredentialsAreRefused(t *testing.T) {
	pool := mustPool(t, 1)
	tests := []struct {
		name    string
		edit    func(t *testing.T, c *Config)
		wantErr error
		wantMsg string
	}{
		{"no cert", func(_ *testing.T, c *Config) { c.CertPath = "" }, ErrPartialCredentials,
			`"To create blocks, the --shelley-operational-certificate must also be specified"`},
		{"no VRF key", func(_ *testing.T, c *Config) { c.VRFKeyPath = "" }, ErrPartialCredentials,
			`"To create blocks, the --shelley-vrf-key must also be specified"`},
		{"no KES key", func(_ *testing.T, c *Config) { c.KESKeyPath = "" }, ErrPartialCredentials,
			`"To create blocks, the --shelley-kes-key must also be specified"`},
		{"the cert is looked for before the VRF key", func(_ *testing.T, c *Config) { c.CertPath, c.VRFKeyPath = "", "" }, ErrPartialCredentials,
			`"To create blocks, the --shelley-operational-certificate must also be specified"`},
		{"the VRF mode check comes first", func(t *testing.T, c *Config) { c.KESKeyPath = ""; chmod(t, c.VRFKeyPath, 0o604) }, ErrVRFPermissions,
			`has "other" file permissions. Please remove all "other" file permissions.`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mustWrite(t, pool, t.TempDir(), mustIssue(t, pool, 10, 3, 98))
			tt.edit(t, &cfg)
			n, err := Start(context.Background(), cfg)
			if err == nil {
				_ = n.Close()
				t.Fatalf("Start succeeded, want %v", tt.wantErr)
			}
			if !errors.Is(err, tt.wantErr) || !strings.Contains(nodeMessage(err), tt.wantMsg) {
				t.Errorf("got %v (%s), want %v with %s", err, nodeMessage(err), tt.wantErr, tt.wantMsg)
			}
		})
	}
}

// RejectReload stands for a KES key file the node cannot read: a relay
// has none.
func TestRelayWithRejectReloadIsAConfigError(t *testing.T) {
	cfg := relayConfig(Version110)
	cfg.RejectReload = true
	if n, err := Start(context.Background(), cfg); !errors.Is(err, ErrConfig) {
		if n != nil {
			_ = n.Close()
		}
		t.Errorf("got %v, want ErrConfig", err)
	}
}
