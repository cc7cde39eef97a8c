package cli

import (
	"fmt"
	"time"
)

// Progress prints how far a long piece of work has got, on stderr so that
// stdout (and --json) stays clean: nothing during the first second, then
// at most a line a second, and the last line when the work is done.
type Progress struct {
	env   *Env
	what  string
	start time.Time
	last  time.Time
	said  bool
	now   func() time.Time // the wall clock; tests replace it
}

// Progress starts a progress report for what ("verifying the log").
func (e *Env) Progress(what string) *Progress {
	p := &Progress{env: e, what: what, now: time.Now}
	p.start = p.now()
	return p
}

// Update reports done of total items at stage (may be "").
func (p *Progress) Update(stage string, done, total int) {
	if p == nil {
		return
	}
	t := p.now()
	if t.Sub(p.start) < time.Second || (t.Sub(p.last) < time.Second && (done != total || !p.said)) {
		return
	}
	p.last, p.said = t, true
	label := p.what
	if stage != "" {
		label += ": " + stage
	}
	fmt.Fprintf(p.env.Stderr, "%s: %s %d/%d\n", p.env.Prog, label, done, total)
}
