package producer

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"time"

	"github.com/kesrotate/kesrotate/internal/safefile"
)

// HistoryFile records every settings change, one JSON object a line.
const HistoryFile = "config-history.jsonl"

// Change is a change of the agent's settings: each non-nil field replaces
// the current value ("" clears an optional one).
type Change struct {
	Socket     *string
	MetricsURL *string
	NodeLog    *string
	NodeConfig *string
	LinkMode   *string
	Group      *string
	Name       *string
	AuditKey   *string // the vault's audit.pub text
	Signal     *Signal
	// KESAgentSocket sets kes-agent's control socket. An agent that has
	// not installed a set yet may switch to kes-agent (its KES key path is
	// dropped); one in kes-agent mode may move the socket; nothing else.
	KESAgentSocket *string
	MithrilSigner  *string
	MithrilMetrics *string
	MithrilEnvFile *string
}

// Changed is one setting that changed.
type Changed struct {
	Setting string `json:"setting"`
	From    string `json:"from"`
	To      string `json:"to"`
}

// Reconfigure applies c under the agent lock: it validates the new
// settings as init does, records the change in config-history.jsonl,
// replaces agent.json atomically and, when the link mode changed, re-makes
// the node's paths in the new mode at once (same bytes, so the node reads
// the same set). The pool, network and identity never change.
func (a *Agent) Reconfigure(c Change, now time.Time) ([]Changed, error) {
	l, err := a.Lock()
	if err != nil {
		return nil, err
	}
	defer l.Unlock()
	next := a.Config
	set := func(p *string, v *string) {
		if v != nil {
			*p = *v
		}
	}
	set(&next.Socket, c.Socket)
	set(&next.MetricsURL, c.MetricsURL)
	set(&next.NodeLog, c.NodeLog)
	set(&next.NodeConfig, c.NodeConfig)
	set(&next.LinkMode, c.LinkMode)
	set(&next.Group, c.Group)
	set(&next.Name, c.Name)
	set(&next.AuditKey, c.AuditKey)
	if c.Signal != nil {
		next.Signal = *c.Signal
	}
	set(&next.MithrilSigner, c.MithrilSigner)
	set(&next.MithrilMetrics, c.MithrilMetrics)
	set(&next.MithrilEnvFile, c.MithrilEnvFile)
	if c.KESAgentSocket != nil {
		switch cur, _ := a.CurrentSet(); {
		case *c.KESAgentSocket == "" && a.Config.KESAgentSocket != "":
			return nil, fmt.Errorf("%w: an agent in kes-agent mode stays in it (its node reads no KES key file); set up another agent folder for key files", ErrConfig)
		case *c.KESAgentSocket != "" && a.Config.KESAgentSocket == "" && cur != "":
			return nil, fmt.Errorf("%w: this agent has installed sets with KES key files (set %s is active); a producer that moves to kes-agent needs a new agent folder, so that no KES key file stays behind", ErrConfig, cur)
		case *c.KESAgentSocket != "" && a.Config.KESAgentSocket == "":
			next.KESKey = "" // the node will read no KES key file
		}
		next.KESAgentSocket = *c.KESAgentSocket
	}
	if err := validateConfig(&next); err != nil {
		return nil, err
	}
	changes := diffConfig(a.Config, next)
	if len(changes) == 0 {
		return nil, nil
	}
	b, _ := json.MarshalIndent(next, "", "  ")
	entry, _ := json.Marshal(map[string]any{"at": now.UTC().Truncate(time.Second), "changes": changes})
	if err := appendLine(filepath.Join(a.Dir, HistoryFile), entry); err != nil {
		return nil, err
	}
	if err := safefile.Replace(filepath.Join(a.Dir, ConfigFile), append(b, '\n'), 0o600); err != nil {
		return nil, err
	}
	old := a.Config
	a.Config = next
	if old.LinkMode != next.LinkMode || old.Group != next.Group {
		if cur, _ := a.CurrentSet(); cur != "" {
			if _, err := a.linkPathsOf(cur, func(Step) error { return nil }); err != nil {
				return changes, fmt.Errorf("settings saved, but re-making the node's paths: %w", err)
			}
		}
	}
	return changes, nil
}

func diffConfig(a, b Config) []Changed {
	var out []Changed
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	t := va.Type()
	for i := 0; i < t.NumField(); i++ {
		name := t.Field(i).Tag.Get("json")
		if j := len(name); j > 0 {
			for k := 0; k < j; k++ {
				if name[k] == ',' {
					name = name[:k]
					break
				}
			}
		}
		x, y := fmt.Sprint(va.Field(i).Interface()), fmt.Sprint(vb.Field(i).Interface())
		if x != y {
			out = append(out, Changed{Setting: name, From: x, To: y})
		}
	}
	return out
}

func appendLine(path string, line []byte) error {
	return safefile.Append(path, append(line, '\n'), 0o600)
}
