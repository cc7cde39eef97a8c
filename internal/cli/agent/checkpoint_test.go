package agent

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/kesrotate/kesrotate/auditlog"
	"github.com/kesrotate/kesrotate/internal/cli"
	"github.com/kesrotate/kesrotate/producer"
)

// countersign's hints come from the library's typed errors: only a file
// that is not a checkpoint at all may be moved away; a checkpoint that
// does not verify under the audit key is evidence and is kept (the hint
// used to invite removing any file whose countersigning failed).
func TestCountersignHint(t *testing.T) {
	a := &producer.Agent{Dir: "/var/lib/kesrotate-agent"}
	auditErr := func(kind error) error {
		return fmt.Errorf("00000006-ab.note: countersign: %w", &auditlog.Error{Kind: kind, Seq: auditlog.NoSeq, Reason: "x"})
	}
	tests := []struct {
		name    string
		err     error
		want    string
		wantNot string
	}{
		{"not a checkpoint", fmt.Errorf("zz.note: %w: checkpoint note: malformed", producer.ErrNotCheckpoint),
			"move it out of /var/lib/kesrotate-agent/checkpoints", "keep it"},
		{"not a checkpoint, audit key given", fmt.Errorf("zz.note: %w: %w", producer.ErrNotCheckpoint, auditErr(auditlog.ErrMalformed)),
			"move it out of", "evidence"},
		{"bad signature", auditErr(auditlog.ErrBadSignature), "keep it, it is evidence", "move it out"},
		{"bad signature names the cold side's verify", auditErr(auditlog.ErrBadSignature), "kesrotate ceremony verify --checkpoints", "remove"},
		{"another vault", auditErr(auditlog.ErrForeignLog), "do not delete it", "move it out"},
		{"write error", fmt.Errorf("open /out/x.note: %w", errors.New("no space left on device")), "", "checkpoints"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := countersignHint(tt.err, a)
			var ce *cli.Error
			h := ""
			if errors.As(got, &ce) {
				h = strings.Join(ce.Hints, "\n")
			}
			if !strings.Contains(h, tt.want) || strings.Contains(h, tt.wantNot) {
				t.Errorf("hints %q, want %q and not %q", h, tt.want, tt.wantNot)
			}
			if !errors.Is(got, tt.err) {
				t.Errorf("the error %v is lost", tt.err)
			}
		})
	}
}
