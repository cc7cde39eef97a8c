package plan

import (
	"math"
	"testing"
	"time"
)

// formatLeft printed the negative of a negative duration by recursion;
// the most negative one is its own negative, and the recursion never
// ended (a stack overflow, from a status file's numbers).
func TestFormatLeftAtTheEdges(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0m 0s"},
		{90 * time.Second, "1m 30s"},
		{-90 * time.Second, "-1m 30s"},
		{36 * time.Hour, "1d 12h 0m 0s"},
		{math.MaxInt64, "106751d 23h 47m 16s"},
		{math.MinInt64, "-106751d 23h 47m 16s"},
		{math.MinInt64 + 1, "-106751d 23h 47m 16s"},
	} {
		if got := FormatLeft(tc.d); got != tc.want {
			t.Errorf("FormatLeft(%d): got %q, want %q", int64(tc.d), got, tc.want)
		}
	}
}
