// Package durfmt writes durations the way both binaries read them
// (internal/cli.ParseDuration): 14d, 36h, 2d12h, 90m — never 72h0m0s.
package durfmt

import (
	"fmt"
	"strings"
	"time"
)

// Format writes d with whole days as "d" and without the zero units Go
// leaves at the end: 3d, 2d12h, 1h30m, 5m, 10s.
func Format(d time.Duration) string {
	if d < 0 {
		return "-" + Format(-d)
	}
	if d >= 24*time.Hour {
		days := d / (24 * time.Hour)
		rest := d - days*24*time.Hour
		if rest == 0 {
			return fmt.Sprintf("%dd", days)
		}
		return fmt.Sprintf("%dd%s", days, short(rest))
	}
	return short(d)
}

func short(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
