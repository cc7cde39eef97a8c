package opcert

import (
	"errors"
	"math"
	"slices"
	"testing"
	"time"
)

// Numbers in certs, status files and leader logs come from files: time
// and period arithmetic on them must saturate, never wrap.
func TestSlotTimeSaturatesAndNeverRunsBackwards(t *testing.T) {
	for _, n := range []Network{Mainnet, Preprod, Preview} {
		t.Run(n.Name, func(t *testing.T) {
			prev := n.SlotTime(0)
			slots := []uint64{1, n.ByronSlots, n.ByronSlots + 1, 1 << 32, 1 << 40, 1 << 53, 1 << 62, math.MaxInt64, 1 << 63, math.MaxUint64 - 1, math.MaxUint64}
			slices.Sort(slots)
			for _, s := range slots {
				got := n.SlotTime(s)
				if got.Before(prev) {
					t.Errorf("slot %d is at %s, before a lower slot at %s", s, got, prev)
				}
				if got.After(FarFuture) {
					t.Errorf("slot %d is at %s, past FarFuture", s, got)
				}
				prev = got
			}
			if got := n.SlotTime(math.MaxUint64); !got.Equal(FarFuture) {
				t.Errorf("the last slot: got %s, want FarFuture", got)
			}
			if got := n.PeriodStart(math.MaxUint64); !got.Equal(FarFuture) {
				t.Errorf("the last period: got %s, want FarFuture", got)
			}
		})
	}
}

// A cert whose start period is beyond any real time used to wrap around
// to a start in the past: plan called it ok.
func TestEvaluateNeverCallsAnImpossibleCertOK(t *testing.T) {
	now := time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)
	for _, start := range []uint64{137439062404, 1 << 40, 1 << 47, 1 << 50, 1 << 60, math.MaxUint64 - 61, math.MaxUint64 - 1, math.MaxUint64} {
		p, err := Evaluate(Mainnet, start, now, DefaultLeads)
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
	c := &Certificate{KESPeriod: math.MaxUint64 - 1}
	if w := c.Window(Mainnet); w.End < w.Start || w.Contains(0) {
		t.Errorf("window %+v wrapped", w)
	}
}

// The counter file holds the next number, so a cert numbered 2^64-1 can
// never be followed: the rules refuse to choose it rather than wrap to 0.
func TestCountersAtTheTop(t *testing.T) {
	const top = math.MaxUint64
	for _, tc := range []struct {
		name    string
		onchain OnChain
		h       History
		want    uint64
		err     error
	}{
		{"chain at top", Recorded(top), History{Issued: true, MaxIssued: top, LastIssued: top}, 0, ErrCounterExhausted},
		{"chain one below top", Recorded(top - 1), History{Issued: true, MaxIssued: top - 1, LastIssued: top - 1}, 0, ErrCounterExhausted},
		{"chain two below top", Recorded(top - 2), History{Issued: true, MaxIssued: top - 2, LastIssued: top - 2}, top - 1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NextCounter(tc.onchain, tc.h)
			if !errors.Is(err, tc.err) || (err == nil && got != tc.want) {
				t.Errorf("got %d, %v; want %d, %v", got, err, tc.want, tc.err)
			}
		})
	}
	for _, tc := range []struct {
		n       uint64
		onchain OnChain
		err     error
	}{
		{top, Recorded(top), nil},
		{top, Recorded(top - 1), nil},
		{top - 1, Recorded(top), ErrCounterTooSmall},
		{top, Recorded(top - 2), ErrCounterOverIncremented},
		{0, Recorded(top), ErrCounterTooSmall},
	} {
		if err := CheckCounter(tc.n, tc.onchain); !errors.Is(err, tc.err) {
			t.Errorf("CheckCounter(%d, %s): got %v, want %v", tc.n, tc.onchain, err, tc.err)
		}
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
		n := Mainnet
		if custom {
			if slotsPerPeriod == 0 || maxEvol == 0 || maxEvol > 64 || slotLen <= 0 {
				return // ParseGenesis refuses these
			}
			n = Network{Name: "fuzz", Magic: 42, SlotsPerKESPeriod: slotsPerPeriod, MaxKESEvolutions: maxEvol,
				SystemStart: time.Unix(1506203091, 0).UTC(), ByronSlotLength: 20 * time.Second, SlotLength: time.Duration(slotLen)}
		}
		now := time.Unix(nowUnix, 0).UTC()
		p, err := Evaluate(n, start, now, DefaultLeads)
		if err != nil {
			if !errors.Is(err, ErrBeforeSystemStart) {
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
		if p.Status == StatusOK && !(Window{Start: p.StartPeriod, End: p.EndPeriod}).Contains(p.CurrentPeriod) {
			t.Fatalf("ok in period %d outside its window %d..%d", p.CurrentPeriod, p.StartPeriod, p.EndPeriod)
		}
	})
}

// FuzzNextCounter feeds the counter rules any chain observation and
// history: the number chosen must be one the chain accepts after that
// observation, and never wrap.
func FuzzNextCounter(f *testing.F) {
	f.Add(true, uint64(5), true, uint64(7), uint64(6), true, uint64(4))
	f.Add(false, uint64(0), true, uint64(1), uint64(1), false, uint64(0))
	f.Add(true, uint64(math.MaxUint64), true, uint64(math.MaxUint64), uint64(math.MaxUint64), true, uint64(math.MaxUint64))
	f.Add(true, uint64(math.MaxUint64-1), true, uint64(math.MaxUint64), uint64(3), true, uint64(0))
	f.Fuzz(func(t *testing.T, known bool, m uint64, issued bool, maxIssued, lastIssued uint64, seenKnown bool, seen uint64) {
		oc := OnChain{Known: known, N: m}
		if !known {
			oc = None()
		}
		s := OnChain{Known: seenKnown, N: seen}
		if !seenKnown {
			s = None()
		}
		h := History{Issued: issued, MaxIssued: maxIssued, LastIssued: lastIssued, Seen: s}
		n, err := NextCounter(oc, h)
		if err != nil {
			if !errors.Is(err, ErrOnChainAhead) && !errors.Is(err, ErrOnChainBackwards) && !errors.Is(err, ErrCounterExhausted) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if err := CheckCounter(n, oc); err != nil {
			t.Fatalf("chose %d against %s: %v", n, oc, err)
		}
		if n == math.MaxUint64 {
			t.Fatalf("chose %d, which has no next number", n)
		}
		if known && n < m {
			t.Fatalf("chose %d below the chain's %d", n, m)
		}
	})
}
