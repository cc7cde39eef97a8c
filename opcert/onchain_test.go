package opcert

import (
	"errors"
	"testing"
)

// One text form for an on-chain counter everywhere (journal, log, status
// files, flags), read back exactly as written.
func TestOnChainText(t *testing.T) {
	for _, o := range []OnChain{None(), Recorded(0), Recorded(7), Recorded(MaxCounter)} {
		got, err := ParseOnChain(o.Text())
		if err != nil || got != o {
			t.Errorf("%v: Text %q read back as %v, %v", o, o.Text(), got, err)
		}
	}
	for _, s := range []string{"", "None", "-1", "+1", "01", " 1", "1 ", "0x1", "18446744073709551616", "1e3"} {
		if o, err := ParseOnChain(s); !errors.Is(err, ErrOnChainText) {
			t.Errorf("ParseOnChain(%q) = %v, %v; want ErrOnChainText", s, o, err)
		}
	}
}
