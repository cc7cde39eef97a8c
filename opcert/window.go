package opcert

import (
	"fmt"
	"time"
)

// Window is the span of KES periods a cert is valid in: Start ≤ kp < End,
// End = Start + maxKESEvolutions.
type Window struct {
	Start, End uint64
}

// Window returns the cert's validity window on network n.
func (c *Certificate) Window(n Network) Window {
	return Window{Start: c.KESPeriod, End: AddPeriods(c.KESPeriod, n.MaxKESEvolutions)}
}

// Contains reports whether KES period kp is inside the window.
func (w Window) Contains(kp uint64) bool { return w.Start <= kp && kp < w.End }

// Check applies the node's header checks for period kp
// (KESBeforeStartOCERT, KESAfterEndOCERT).
func (w Window) Check(kp uint64) error {
	if kp < w.Start {
		return fmt.Errorf("%w: current period %d, cert starts at %d", ErrKESBeforeStart, kp, w.Start)
	}
	if kp >= w.End {
		return fmt.Errorf("%w: current period %d, cert was valid for periods %d to %d", ErrKESAfterEnd, kp, w.Start, w.End-1)
	}
	return nil
}

// Expiry is the exact instant the cert stops being valid: the start of
// period c0 + maxKESEvolutions (not "issue time + 93 days").
func (c *Certificate) Expiry(n Network) time.Time {
	return n.PeriodStart(c.Window(n).End)
}
