package ceremony

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kesrotate/kesrotate/auditlog"
	"github.com/kesrotate/kesrotate/opcert"
)

// A plaintext rotation derives the overrides it logs from its request:
// a period off the clock (IgnoreClock) and a clock the operator set
// (Clock) go into the override entry and the cert's overrides, as a
// sealed rotation's do.
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
	clock := &ClockOverride{Given: t0, System: t0.Add(-72 * time.Hour)}
	res, err := v.RotatePlain(PlainRequest{Pool: pools[0].name, KESPeriod: period + 2, OnChain: none, IgnoreClock: true,
		OutDir: filepath.Join(t.TempDir(), "out"), Now: t0, Clock: clock})
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
	o, c := es[len(es)-2], es[len(es)-1]
	want := map[string]string{OverrideIgnoreClock: "true", OverrideNow: "2026-11-21T06:00:00Z", DetailSystemTime: "2026-11-18T06:00:00Z"}
	if o.Kind != auditlog.KindOverride || len(o.Detail) != len(want) {
		t.Fatalf("entry before the cert: %+v, want an override entry with %v", o, want)
	}
	for k, val := range want {
		if o.Detail[k] != val {
			t.Errorf("override %s = %q, want %q", k, o.Detail[k], val)
		}
	}
	if c.Kind != auditlog.KindCertIssued || c.Detail[DetailOverrides] != "ignore_clock now" {
		t.Errorf("cert entry: %s, overrides %q", c.Kind, c.Detail[DetailOverrides])
	}
}
