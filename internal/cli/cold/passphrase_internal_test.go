package cold

import (
	"regexp"
	"testing"
)

func TestNewPassphraseStrength(t *testing.T) {
	for _, p := range []string{"", "short", "elevenchars", "aaaaaaaaaaaaaaaaaaaa", "abcabcabcabcabc", "12121212121212"} {
		if err := checkNewPassphrase([]byte(p)); err == nil {
			t.Errorf("%q accepted", p)
		}
	}
	for _, p := range []string{"correct horse battery staple", "hostile passphrase", "Tr0ub4dor&3xy", "ünïcödé-pässwörd"} {
		if err := checkNewPassphrase([]byte(p)); err != nil {
			t.Errorf("%q refused: %v", p, err)
		}
	}
	// A made passphrase passes the check, has its form, and is not repeated.
	form := regexp.MustCompile(`^[a-z2-7]{5}(-[a-z2-7]{5}){4}$`)
	seen := map[string]bool{}
	for range 100 {
		p, err := madePassphrase()
		if err != nil {
			t.Fatal(err)
		}
		if !form.Match(p) || checkNewPassphrase(p) != nil || seen[string(p)] {
			t.Fatalf("made passphrase %q", p)
		}
		seen[string(p)] = true
	}
}
