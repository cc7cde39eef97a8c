package cli

import (
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	good := map[string]time.Duration{
		"14d": 14 * 24 * time.Hour, "36h": 36 * time.Hour, "90m": 90 * time.Minute, "2d12h": 60 * time.Hour,
		"1h30m": 90 * time.Minute, "0d": 0, "0s": 0, "30s": 30 * time.Second,
	}
	for in, want := range good {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v, want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "2x", "-3h", "1.5d", "3d-1h", "d12h"} {
		if got, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", in, got)
		}
	}
	for d, want := range map[time.Duration]string{
		48 * time.Hour: "2d", 60 * time.Hour: "2d12h", 90 * time.Minute: "1h30m", 5 * time.Minute: "5m", time.Hour: "1h",
		10 * time.Second: "10s", 0: "0s", 61 * time.Second: "1m1s", 3*time.Hour + 10*time.Second: "3h0m10s", 50*time.Hour + 30*time.Second: "2d2h0m30s",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
