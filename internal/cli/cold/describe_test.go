package cold

import (
	"strings"
	"testing"
	"time"

	"github.com/kesrotate/kesrotate/auditlog"
)

// 'ceremony show' prints entries that older versions wrote, whose text may
// hold a bidirectional override: it must reach the screen escaped.
func TestDescribeEscapesFormattingCharacters(t *testing.T) {
	e := auditlog.Entry{Kind: auditlog.KindSnapshotAccepted, Time: time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC),
		Operator: "alice\u202eecila", Witnesses: []string{"b\x1b[2Jb"}, Detail: map[string]string{"installed_cert_hash": "ab\u2066cd"}}
	got := describe(e)
	for _, bad := range []string{"\u202e", "\x1b", "\u2066"} {
		if strings.Contains(got, bad) {
			t.Errorf("got %q, which holds %q unescaped", got, bad)
		}
	}
	for _, want := range []string{`alice\u202eecila`, `b\x1b[2Jb`, `ab\u2066cd`} {
		if !strings.Contains(got, want) {
			t.Errorf("got %q, want it to show %s", got, want)
		}
	}
}
