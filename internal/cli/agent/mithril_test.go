package agent

import (
	"bytes"
	"strings"
	"testing"

	"github.com/kesrotate/kesrotate/producer"
)

// printSigner says "was restarted" only when the library says the unit was
// restarted: a signer that had a pid but whose restart failed (or that
// was never reached: its journal unreadable) was not.
func TestPrintSignerRestarted(t *testing.T) {
	tests := []struct {
		name    string
		res     producer.SignerResult
		want    string
		wantNot string
	}{
		{"restart refused", producer.SignerResult{Unit: "mithril-signer", PIDBefore: 812, Detail: "Interactive authentication required."},
			"the Mithril signer (mithril-signer): Interactive authentication required.", "was restarted"},
		{"journal unreadable", producer.SignerResult{Unit: "mithril-signer", PIDBefore: 812, Detail: "its journal cannot be read: permission denied"},
			"the Mithril signer (mithril-signer): its journal cannot be read", "was restarted"},
		{"restarted, not registered", producer.SignerResult{Unit: "mithril-signer", PIDBefore: 812, Restarted: true, PIDAfter: 900, Detail: "last seen: its metrics"},
			"was restarted (pid 812 → 900) but did not register: last seen: its metrics", "and registered"},
		{"restarted, not running before", producer.SignerResult{Unit: "mithril-signer", Restarted: true, Detail: "it exited"},
			"was restarted (pid 0 → 0) but did not register: it exited", "and registered"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			printSigner(&b, &tt.res)
			if got := b.String(); !strings.Contains(got, tt.want) || strings.Contains(got, tt.wantNot) {
				t.Errorf("got %q, want %q and not %q", got, tt.want, tt.wantNot)
			}
		})
	}
}
