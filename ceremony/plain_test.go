package ceremony

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kesrotate/kesrotate/auditlog"
	"github.com/kesrotate/kesrotate/opcert"
)

// A plaintext rotation derives the overrides it logs from its request and
// the vault's audit context: a period off the clock (IgnoreClock) goes
// into its override entry, a clock the operator set (Audit.Clock) into the
// clock's own override entry before it; the cert lists both, as a sealed
// rotation's does.
func TestPlainOverrides(t *testing.T) {
	v, pools := benchVault(t, t.TempDir(), 1, t0)
	period, err := v.Network.KESPeriodAt(t0)
	if err != nil {
		t.Fatal(err)
	}
	none, err := opcert.ParseOnChain("none")
	if err != nil {
		t.Fatal(err)
	}
	v.Audit.Clock = &ClockOverride{Given: t0, System: t0.Add(-72 * time.Hour)}
	res, err := v.RotatePlain(PlainRequest{Pool: pools[0].name, KESPeriod: period + 2, OnChain: none, IgnoreClock: true,
		OutDir: filepath.Join(t.TempDir(), "out"), Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	res.KES.Wipe()
	if got, want := strings.Join(res.Entry.Overrides, " "), "ignore_clock now"; got != want {
		t.Errorf("journaled overrides %q, want %q", got, want)
	}
	es, err := auditlog.Entries(v.LogDir())
	if err != nil {
		t.Fatal(err)
	}
	clock, o, c := es[len(es)-3], es[len(es)-2], es[len(es)-1]
	for _, w := range []struct {
		e    auditlog.Entry
		want map[string]string
	}{
		{clock, map[string]string{OverrideNow: "2026-11-21T06:00:00Z", DetailSystemTime: "2026-11-18T06:00:00Z"}},
		{o, map[string]string{OverrideIgnoreClock: "true"}},
	} {
		if w.e.Kind != auditlog.KindOverride || len(w.e.Detail) != len(w.want) {
			t.Fatalf("entry %d: %+v, want an override entry with %v", w.e.Seq, w.e, w.want)
		}
		for k, val := range w.want {
			if w.e.Detail[k] != val {
				t.Errorf("entry %d: override %s = %q, want %q", w.e.Seq, k, w.e.Detail[k], val)
			}
		}
	}
	if c.Kind != auditlog.KindCertIssued || c.Detail[DetailOverrides] != "ignore_clock now" {
		t.Errorf("cert entry: %s, overrides %q", c.Kind, c.Detail[DetailOverrides])
	}
}
