package e2e

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestRunbookRehearsal holds testdata/node/runbook.txtar to the rehearsal
// in docs/runbook.md §0: the same commands in the same order (each run as
// a shell would; the fingerprint is the one the agent printed), and at
// most 12 of them from an empty folder to a confirmed install.
func TestRunbookRehearsal(t *testing.T) {
	doc, err := os.ReadFile("../../docs/runbook.md")
	if err != nil {
		t.Fatal(err)
	}
	sec := string(doc)
	start := strings.Index(sec, "## 0. Rehearse on one machine")
	end := strings.Index(sec, "## 1. Setup")
	if start < 0 || end < start {
		t.Fatal("docs/runbook.md has no section 0 before section 1")
	}
	sec = sec[start:end]
	blocks := regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(sec, -1)
	if len(blocks) != 2 {
		t.Fatalf("section 0 has %d sh blocks, want 2 (build, rehearsal)", len(blocks))
	}
	var doced []string
	for _, l := range strings.Split(strings.TrimSpace(blocks[1][1]), "\n") {
		doced = append(doced, strings.TrimSpace(l))
	}

	script, err := os.ReadFile("testdata/node/runbook.txtar")
	if err != nil {
		t.Fatal(err)
	}
	s := string(script)
	s = s[strings.Index(s, "# runbook begin"):strings.Index(s, "# runbook end")]
	run := regexp.MustCompile(`(?m)^exec sh -c '(?:exec )?(.*)'( &)?$`)
	var ran []string
	for _, m := range run.FindAllStringSubmatch(s, -1) {
		if strings.HasPrefix(m[1], "i=0; until") {
			continue // the script waits for the node as a person does
		}
		ran = append(ran, m[1]+m[2])
	}

	if !strings.HasPrefix(doced[0], "export ") {
		t.Fatalf("the rehearsal starts with %q, want its export line", doced[0])
	}
	for _, name := range []string{"KESROTATE_VAULT", "KESROTATE_AGENT_DIR", "T"} {
		if !strings.Contains(doced[0], " "+name+"=") || !strings.Contains(s, "env "+name+"=") && !strings.Contains(string(script), "env "+name+"=") {
			t.Errorf("%s: the runbook and the script must both set it", name)
		}
	}
	doced = doced[1:]
	if len(doced) != len(ran) {
		t.Fatalf("the runbook has %d commands after its export line, the script runs %d:\nrunbook: %q\nscript:  %q", len(doced), len(ran), doced, ran)
	}
	const placeholder = "XXXX-XXXX-XXXX-XXXX"
	for i := range doced {
		want, got := doced[i], ran[i]
		if j := strings.Index(want, placeholder); j >= 0 {
			want, got = want[:j], got[:min(j, len(got))]
		}
		if want != got {
			t.Errorf("command %d:\nrunbook: %s\nscript:  %s", i+1, doced[i], ran[i])
		}
	}
	// From an empty folder to the confirmed install, the export line
	// included.
	for i, c := range doced {
		if strings.HasPrefix(c, "kesrotate-agent install ") {
			if n := i + 2; n > 12 {
				t.Errorf("the confirmed install is command %d, want at most 12", n)
			}
			return
		}
	}
	t.Error("the rehearsal has no 'kesrotate-agent install'")
}
