package producer

import (
	"errors"
	"strings"
	"testing"
)

// A trace option the agent cannot read is an error, not an absent setting
// (issue 15: its decode error was ignored, and the option taken as empty).
func TestNodeConfigBadTraceOption(t *testing.T) {
	_, err := ParseNodeConfig([]byte(`{"UseTraceDispatcher": true, "TraceOptions": {"": {"severity": 3, "backends": ["Stdout HumanFormatColoured"]}}}`))
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "TraceOptions") {
		t.Errorf("got %v, want ErrConfig naming TraceOptions", err)
	}
	if _, err := ParseNodeConfig([]byte(`{"UseTraceDispatcher": true, "TraceOptions": {"": {"severity": "Notice", "detail": "DNormal", "backends": ["Stdout HumanFormatColoured"]}}}`)); err != nil {
		t.Errorf("a real option with fields the agent does not read: %v", err)
	}
}
