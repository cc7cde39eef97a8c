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
func (c *Certificate) Window(n Network) Window { return n.CertWindow(c.KESPeriod) }

// CertWindow is the validity window on n of a cert that starts in KES
// period p (one prepared, or journaled, before its cert is at hand).
func (n Network) CertWindow(p uint64) Window {
	return Window{Start: p, End: AddPeriods(p, n.MaxKESEvolutions)}
}

// CertExpiry is the instant a cert that starts in KES period p stops
// being valid on n: the start of period p + maxKESEvolutions.
func (n Network) CertExpiry(p uint64) time.Time { return n.PeriodStart(n.CertWindow(p).End) }

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
func (c *Certificate) Expiry(n Network) time.Time { return n.CertExpiry(c.KESPeriod) }
