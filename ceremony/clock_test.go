package ceremony

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/kesrotate/kesrotate/auditlog"
)

// clockEntries are the entries of the vault's log from seq from on that
// record a clock the operator set: override entries with OverrideNow.
func clockEntries(t *testing.T, v *Vault, from int64) []auditlog.Entry {
	t.Helper()
	es, err := auditlog.Entries(v.LogDir())
	if err != nil {
		t.Fatal(err)
	}
	var out []auditlog.Entry
	for _, e := range es {
		if e.Seq >= from && e.Kind == auditlog.KindOverride && e.Detail[OverrideNow] != "" {
			out = append(out, e)
		}
	}
	return out
}

func logSize(t *testing.T, v *Vault) int64 {
	t.Helper()
	es, err := auditlog.Entries(v.LogDir())
	if err != nil {
		t.Fatal(err)
	}
	return int64(len(es))
}

// The clock travels with the vault's audit context: a vault given one
// records it once, before the first entry it appends, whatever the
// actions (here a pool, a pin, two rotations); a vault opened again (the
// next command) records it again; a vault without one never does.
func TestClockIsLoggedOncePerVault(t *testing.T) {
	v, pools := benchVault(t, t.TempDir(), 2, t0)
	from := logSize(t, v)
	clock := &ClockOverride{Given: t0.Add(time.Hour), System: t0.Add(-time.Hour)}
	v.Audit.Clock = clock
	at := clock.Given
	if _, err := v.NewPool("gamma", at); err != nil {
		t.Fatal(err)
	}
	for _, bp := range pools {
		if _, err := rotateOnce(t, v, bp, bp.snapshot(t, v, at), at); err != nil {
			t.Fatal(err)
		}
	}
	got := clockEntries(t, v, from)
	if len(got) != 1 || got[0].Seq != from {
		t.Fatalf("clock entries %+v, want one, at %d (before the first entry)", got, from)
	}
	if got[0].Pool != "" || got[0].Detail[OverrideNow] != "2026-11-21T07:00:00Z" || got[0].Detail[DetailSystemTime] != "2026-11-21T05:00:00Z" || len(got[0].Detail) != 2 {
		t.Errorf("clock entry %+v, want now and system_time and no pool", got[0])
	}

	// The next command opens the vault again: its clock is logged again.
	w, err := Open(v.Dir)
	if err != nil {
		t.Fatal(err)
	}
	w.Audit = v.Audit
	from = logSize(t, w)
	if _, err := w.RemoveProducer(pools[0].producer, at); err != nil {
		t.Fatal(err)
	}
	if got := clockEntries(t, w, from); len(got) != 1 || got[0].Seq != from {
		t.Errorf("the next command: clock entries %+v, want one, at %d", got, from)
	}

	// Without a clock, nothing.
	w, err = Open(v.Dir)
	if err != nil {
		t.Fatal(err)
	}
	from = logSize(t, w)
	if _, err := w.RemoveProducer(pools[1].producer, at); err != nil {
		t.Fatal(err)
	}
	if got := clockEntries(t, w, from); len(got) != 0 {
		t.Errorf("no clock set: clock entries %+v, want none", got)
	}
	if _, err := VerifyLog(v.LogDir(), w, auditlog.VerifyOptions{}); err != nil {
		t.Errorf("VerifyLog: %v", err)
	}
}

// Init's entry must be the log's first: a clock set for it goes into its
// detail, and the vault Init returns does not log it again.
func TestInitRecordsItsClock(t *testing.T) {
	clock := &ClockOverride{Given: t0, System: t0.Add(-24 * time.Hour)}
	v, err := Init(filepath.Join(t.TempDir(), "vault"), InitOptions{Network: "mainnet", Now: t0, Rand: &detRand{}, Audit: Audit{Clock: clock}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.NewPool("alpha", t0); err != nil {
		t.Fatal(err)
	}
	es, err := auditlog.Entries(v.LogDir())
	if err != nil {
		t.Fatal(err)
	}
	if d := es[0].Detail; es[0].Kind != auditlog.KindInit || d[OverrideNow] != "2026-11-21T06:00:00Z" || d[DetailSystemTime] != "2026-11-20T06:00:00Z" {
		t.Errorf("init entry %s %v, want the clock in its detail", es[0].Kind, es[0].Detail)
	}
	if got := clockEntries(t, v, 0); len(got) != 0 {
		t.Errorf("clock entries %+v after init, want none: init's entry records it", got)
	}
	if _, err := auditlog.Verify(v.LogDir(), auditlog.VerifyOptions{}); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

// What a crash left unlogged is recorded (flagged recovered) by the next
// command that opens the log, on its clock: a clock set for it precedes
// the recovered entries, once.
func TestRecoveredEntriesFollowTheClock(t *testing.T) {
	v := newVault(t)
	p, err := v.NewPool("alpha", t0)
	if err != nil {
		t.Fatal(err)
	}
	crashAfterJournal(t, p)
	w, err := Open(v.Dir)
	if err != nil {
		t.Fatal(err)
	}
	w.Audit.Clock = &ClockOverride{Given: t0.Add(time.Hour), System: t0}
	from := logSize(t, w)
	res, err := w.Seal(t0.Add(time.Hour), true)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Recorded) != 1 {
		t.Fatalf("recorded %+v, want the journaled cert", res.Recorded)
	}
	got := clockEntries(t, w, from)
	if len(got) != 1 || got[0].Seq != from || res.Recorded[0].Seq != from+1 {
		t.Errorf("clock entries %+v, recovered at %d; want the clock at %d, then the recovered cert", got, res.Recorded[0].Seq, from)
	}
}
