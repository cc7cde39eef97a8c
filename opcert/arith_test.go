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

// The window and expiry of a period are those of a cert that starts in
// it, whether the cert is at hand (Certificate) or only its period is
// (a preparation, a journal line).
func TestCertWindowOfAPeriod(t *testing.T) {
	n, err := NetworkOf("mainnet", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []uint64{0, 1571, math.MaxUint64 - 1} {
		c := &Certificate{KESPeriod: p}
		if got, want := n.CertWindow(p), c.Window(n); got != want {
			t.Errorf("period %d: window %+v, cert's %+v", p, got, want)
		}
		if got, want := n.CertExpiry(p), n.PeriodStart(AddPeriods(p, n.MaxKESEvolutions)); !got.Equal(want) {
			t.Errorf("period %d: expiry %s, want %s", p, got, want)
		}
	}
	if got := n.CertExpiry(1571).Format(time.RFC3339); got != "2027-02-21T09:44:51Z" {
		t.Errorf("expiry of a cert from period 1571: %s, want 2027-02-21T09:44:51Z (what rotate printed)", got)
	}
}
