package durfmt

import (
	"testing"
	"time"
)

func TestFormat(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 10 * time.Second: "10s", 5 * time.Minute: "5m", time.Hour: "1h", 90 * time.Minute: "1h30m",
		61 * time.Second: "1m1s", 3*time.Hour + 10*time.Second: "3h0m10s", 24 * time.Hour: "1d", 49 * time.Hour: "2d1h",
		50*time.Hour + 30*time.Second: "2d2h0m30s", -72 * time.Hour: "-3d", 1500 * time.Millisecond: "1.5s",
	} {
		if got := Format(d); got != want {
			t.Errorf("Format(%v) = %q, want %q", d, got, want)
		}
	}
}
