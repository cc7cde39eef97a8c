package opcert

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// A cert made now on one public network is plausible on that network
// only, so plan can refuse to call a preprod cert "expired on mainnet".
func TestPlausibleOnItsOwnNetworkOnly(t *testing.T) {
	for _, now := range []time.Time{
		time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC),
		time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		for _, n := range Networks {
			cur, err := n.KESPeriodAt(now)
			if err != nil {
				t.Fatal(err)
			}
			for _, start := range []uint64{cur, cur + 1, cur - 61, cur - 81} {
				got := PlausibleNetworks(start, now)
				if len(got) != 1 || got[0].Name != n.Name {
					t.Errorf("%s: a %s cert at period %d (current %d) is plausible on %v", now.Format(time.DateOnly), n.Name, start, cur, names(got))
				}
			}
			if n.Plausible(cur+2, now) {
				t.Errorf("%s: period %d is two ahead of %d and still plausible", n.Name, cur+2, cur)
			}
			if n.Plausible(cur-82, now) {
				t.Errorf("%s: period %d ended 20 periods ago (current %d) and is still plausible", n.Name, cur-82, cur)
			}
		}
	}
	if Mainnet.Plausible(0, Mainnet.SystemStart.Add(-time.Hour)) {
		t.Error("plausible before the chain started")
	}
}

func names(ns []Network) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.Name)
	}
	return out
}

func TestCheckAssumed(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	pp, err := Preprod.KESPeriodAt(now)
	if err != nil {
		t.Fatal(err)
	}
	mn, _ := Mainnet.KESPeriodAt(now)
	if err := Mainnet.CheckAssumed(mn, now); err != nil {
		t.Errorf("a mainnet cert assumed mainnet: %v", err)
	}
	err = Mainnet.CheckAssumed(pp, now)
	var oe *OtherNetworkError
	if !errors.As(err, &oe) || oe.Likely.Name != "preprod" || oe.Current != mn || oe.Start != pp {
		t.Fatalf("a preprod cert assumed mainnet: got %v", err)
	}
	if want := fmt.Sprintf("KES period %d looks like a preprod cert, not mainnet (current period %d)", pp, mn); err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
	// Plausible nowhere (far in the future): the period checks judge it.
	if err := Mainnet.CheckAssumed(mn+1000, now); err != nil {
		t.Errorf("a cert of no public network: %v", err)
	}
}

func TestNetworkByMagic(t *testing.T) {
	for _, n := range Networks {
		if got, err := NetworkByMagic(n.Magic); err != nil || got.Name != n.Name {
			t.Errorf("magic %d: got %s, %v, want %s", n.Magic, got.Name, err, n.Name)
		}
	}
	if _, err := NetworkByMagic(42); !errors.Is(err, ErrUnknownNetwork) {
		t.Errorf("magic 42: got %v, want ErrUnknownNetwork", err)
	}
}
