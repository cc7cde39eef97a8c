package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/kesrotate/kesrotate/internal/durfmt"
)

// ParseDuration reads the one duration syntax both binaries take: Go's
// (90m, 36h, 1h30m) with days as well (14d, 2d12h). Negative durations are
// refused.
func ParseDuration(s string) (time.Duration, error) {
	rest := s
	var total time.Duration
	if i := strings.IndexByte(rest, 'd'); i > 0 {
		days, err := strconv.ParseUint(rest[:i], 10, 16)
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration: write it like 14d, 36h, 90m or 2d12h", s)
		}
		total, rest = time.Duration(days)*24*time.Hour, rest[i+1:]
	}
	if rest != "" {
		d, err := time.ParseDuration(rest)
		if err != nil || d < 0 {
			return 0, fmt.Errorf("%q is not a duration: write it like 14d, 36h, 90m or 2d12h", s)
		}
		total += d
	} else if total == 0 && s != "0d" {
		return 0, errors.New("an empty duration: write it like 14d, 36h, 90m or 2d12h")
	}
	return total, nil
}

// FormatDuration writes d in the same syntax: whole days as Nd, the rest
// as Go does.
func FormatDuration(d time.Duration) string { return durfmt.Format(d) }

type durationValue struct{ p *time.Duration }

func (v durationValue) String() string {
	if v.p == nil {
		return ""
	}
	return FormatDuration(*v.p)
}

func (v durationValue) Set(s string) error {
	d, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*v.p = d
	return nil
}

func (v durationValue) Type() string { return "duration" }

// DurationVar defines a duration flag in the syntax of ParseDuration.
func DurationVar(f *pflag.FlagSet, p *time.Duration, name string, value time.Duration, usage string) {
	*p = value
	f.Var(durationValue{p}, name, usage+" (like 14d, 36h, 90m)")
}
