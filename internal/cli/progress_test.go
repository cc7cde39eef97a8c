package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// Nothing in the first second, then at most a line a second, and the
// last line once something was said.
func TestProgress(t *testing.T) {
	var errb bytes.Buffer
	env := NewEnv("kesrotate", strings.NewReader(""), &bytes.Buffer{}, &errb)
	clock := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	p := env.Progress("verifying the log")
	p.now = func() time.Time { return clock }
	p.start = clock
	step := func(d time.Duration, done int) {
		clock = clock.Add(d)
		p.Update("entries", done, 100)
	}
	step(500*time.Millisecond, 10)  // quiet: under a second
	step(600*time.Millisecond, 20)  // 1.1 s: said
	step(300*time.Millisecond, 30)  // quiet: 0.3 s after the last
	step(800*time.Millisecond, 40)  // said
	step(100*time.Millisecond, 100) // the end: said
	want := "kesrotate: verifying the log: entries 20/100\nkesrotate: verifying the log: entries 40/100\nkesrotate: verifying the log: entries 100/100\n"
	if errb.String() != want {
		t.Errorf("got:\n%swant:\n%s", errb.String(), want)
	}

	// Work done within a second prints nothing at all.
	errb.Reset()
	q := env.Progress("reading QR images")
	start := q.start
	q.now = func() time.Time { return start.Add(900 * time.Millisecond) }
	q.Update("", 14, 14)
	if errb.Len() != 0 {
		t.Errorf("a quick job printed %q", errb.String())
	}
	var nilp *Progress
	nilp.Update("", 1, 1) // a nil Progress is quiet
}
