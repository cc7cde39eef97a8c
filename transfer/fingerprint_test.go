package transfer

import "testing"

// What an operator types reading a fingerprint off the producer's screen.
func TestNormalizeFingerprint(t *testing.T) {
	const want = "OIB2-ABCD-EFGH-7777"
	for _, in := range []string{
		"OIB2-ABCD-EFGH-7777", "oib2-abcd-efgh-7777", "OIB2ABCDEFGH7777", "oib2 abcd efgh 7777",
		"018 2-ABCD-EFGH-7777", "01B2-ABCD-EFGH-7777", "O182-ABCD-EFGH-7777", " OIB2-ABCD-EFGH-7777\t",
	} {
		got, err := NormalizeFingerprint(in)
		if err != nil || got != want {
			t.Errorf("NormalizeFingerprint(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "OIB2-ABCD-EFGH-777", "OIB2-ABCD-EFGH-77777", "OIB2-ABCD-EFGH-7779", "OIB2-ABCD-EFGH-777?", "OIB2--ABCD-EFGH-777"} {
		if got, err := NormalizeFingerprint(in); err == nil {
			t.Errorf("NormalizeFingerprint(%q) = %q, want an error", in, got)
		}
	}
}
