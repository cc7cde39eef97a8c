package cold

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/kesrotate/kesrotate/ceremony"
	"github.com/kesrotate/kesrotate/internal/cli"
)

// TestPoolAddErrorSaysWhatIsInTheVault: "nothing was added" only for the
// errors the library says added nothing; a pool whose log entries failed
// (ceremony.PoolNotLoggedError) is in the vault, and the hint says so.
func TestPoolAddErrorSaysWhatIsInTheVault(t *testing.T) {
	notLogged := &ceremony.PoolNotLoggedError{Pool: "alpha", Err: errors.New("append: entries.jsonl: is a directory")}
	for _, c := range []struct {
		name     string
		err      error
		want     []string
		wantNone []string
	}{
		{"pool in the vault, log entry failed", notLogged,
			[]string{"pool alpha is in the vault", "kesrotate ceremony seal"}, []string{"nothing was added"}},
		{"wrapped, as backup restore returns it", fmt.Errorf("restore: %w", notLogged),
			[]string{"pool alpha is in the vault"}, []string{"nothing was added"}},
		{"refused before the pool", errors.New("disk full"),
			[]string{"nothing was added"}, []string{"is in the vault"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var ce *cli.Error
			if !errors.As(poolAddError(c.err), &ce) {
				t.Fatalf("got no hints for %v", c.err)
			}
			hints := strings.Join(ce.Hints, "\n")
			for _, w := range c.want {
				if !strings.Contains(hints, w) {
					t.Errorf("got hints %q, want %q", hints, w)
				}
			}
			for _, w := range c.wantNone {
				if strings.Contains(hints, w) {
					t.Errorf("got hints %q, want none saying %q", hints, w)
				}
			}
		})
	}
}
