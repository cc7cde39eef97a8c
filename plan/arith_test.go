package plan

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/kesrotate/kesrotate/opcert"
)

// A cert whose start period is beyond any real time used to wrap around
// to a start in the past: plan called it ok.
func TestEvaluateNeverCallsAnImpossibleCertOK(t *testing.T) {
	now := time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)
	for _, start := range []uint64{137439062404, 1 << 40, 1 << 47, 1 << 50, 1 << 60, math.MaxUint64 - 61, math.MaxUint64 - 1, math.MaxUint64} {
		p, err := Evaluate(opcert.Mainnet, start, now, DefaultLeads)
		if err != nil {
			t.Fatal(err)
		}
		if p.Status != StatusNotYetValid {
			t.Errorf("start period %d: got %s, want %s", start, p.Status, StatusNotYetValid)
		}
		if p.EndPeriod < p.StartPeriod || p.RemainingPeriods < 0 || p.Expiry.Before(p.Start) {
			t.Errorf("start period %d: wrapped: end %d, remaining %d, start %s, expiry %s", start, p.EndPeriod, p.RemainingPeriods, p.Start, p.Expiry)
		}
	}
	c := &opcert.Certificate{KESPeriod: math.MaxUint64 - 1}
	if w := c.Window(opcert.Mainnet); w.End < w.Start || w.Contains(0) {
		t.Errorf("window %+v wrapped", w)
	}
}

// FuzzEvaluate plans a cert from numbers as a file may hold them, on the
// public networks and on a genesis-defined one: it must not panic, and
// what it says must hold together.
func FuzzEvaluate(f *testing.F) {
	f.Add(uint64(1571), int64(1795760000), uint64(129600), uint64(62), int64(time.Second), false)
	f.Add(uint64(1<<50), int64(1795760000), uint64(129600), uint64(62), int64(time.Second), false)
	f.Add(uint64(math.MaxUint64), int64(math.MaxInt64/2), uint64(1), uint64(64), int64(1), true)
	f.Add(uint64(0), int64(-1<<40), uint64(math.MaxUint64), uint64(1), int64(math.MaxInt64), true)
	f.Fuzz(func(t *testing.T, start uint64, nowUnix int64, slotsPerPeriod, maxEvol uint64, slotLen int64, custom bool) {
		n := opcert.Mainnet
		if custom {
			if slotsPerPeriod == 0 || maxEvol == 0 || maxEvol > 64 || slotLen <= 0 {
				return // ParseGenesis refuses these
			}
			n = opcert.Network{Name: "fuzz", Magic: 42, SlotsPerKESPeriod: slotsPerPeriod, MaxKESEvolutions: maxEvol,
				SystemStart: time.Unix(1506203091, 0).UTC(), ByronSlotLength: 20 * time.Second, SlotLength: time.Duration(slotLen)}
		}
		now := time.Unix(nowUnix, 0).UTC()
		p, err := Evaluate(n, start, now, DefaultLeads)
		if err != nil {
			if !errors.Is(err, opcert.ErrBeforeSystemStart) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if p.EndPeriod < p.StartPeriod {
			t.Fatalf("end period %d before start %d", p.EndPeriod, p.StartPeriod)
		}
		if p.Expiry.Before(p.Start) {
			t.Fatalf("expiry %s before start %s", p.Expiry, p.Start)
		}
		if p.Status == StatusOK && (now.Before(p.Start) || !now.Before(p.Expiry)) {
			t.Fatalf("ok at %s for a cert valid from %s to %s", now, p.Start, p.Expiry)
		}
		if (p.RemainingPeriods > 0) != (p.EndPeriod > p.CurrentPeriod) {
			t.Fatalf("remaining %d with end %d and current %d", p.RemainingPeriods, p.EndPeriod, p.CurrentPeriod)
		}
		if p.Status == StatusOK && !(opcert.Window{Start: p.StartPeriod, End: p.EndPeriod}).Contains(p.CurrentPeriod) {
			t.Fatalf("ok in period %d outside its window %d..%d", p.CurrentPeriod, p.StartPeriod, p.EndPeriod)
		}
	})
}
