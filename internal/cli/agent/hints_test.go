package agent

import (
	"errors"
	"strings"
	"testing"

	"github.com/kesrotate/kesrotate/internal/cli"
	"github.com/kesrotate/kesrotate/producer"
)

func hintsOf(t *testing.T, err error) []string {
	t.Helper()
	var ce *cli.Error
	if !errors.As(err, &ce) {
		t.Fatalf("%v is not a cli error", err)
	}
	return ce.Hints
}

// An unconfirmed install says what it left: the earlier set back, or the
// new one kept when there was none (issue 16: a first install claimed "the
// previous set is active again"); a permission refusal names --group.
func TestNotConfirmedHint(t *testing.T) {
	fail := errors.New("the node did not take the new cert: Disabling block forging")
	first := notConfirmedHint(fail, &producer.InstallResult{Activated: &producer.ActivateResult{Set: "0-1082-aa"}})
	h := strings.Join(hintsOf(t, first), "\n")
	if !strings.Contains(h, "set 0-1082-aa stays installed: there was no earlier set to return to") || strings.Contains(h, "active again") {
		t.Errorf("first install: %q", h)
	}
	again := notConfirmedHint(fail, &producer.InstallResult{Activated: &producer.ActivateResult{Set: "1-1083-bb"},
		RolledBack: &producer.RollbackResult{To: "0-1082-aa"}})
	if h := strings.Join(hintsOf(t, again), "\n"); !strings.Contains(h, "set 0-1082-aa is active again") {
		t.Errorf("rolled back: %q", h)
	}
	perm := notConfirmedHint(errors.New("node: open /opt/cardano/keys/kes.skey: permission denied"),
		&producer.InstallResult{Activated: &producer.ActivateResult{Set: "0-1082-aa"}})
	h = strings.Join(hintsOf(t, perm), "\n")
	if !strings.Contains(h, "kesrotate-agent config --group GROUP") || !strings.Contains(h, "nothing to return to") {
		t.Errorf("permission: %q", h)
	}
}
