package ur

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// npmHarness returns the node binary and the interop script, or skips (fails
// in CI) when node or the pinned @ngraveio/bc-ur is not installed. Install it
// with internal/interop/bcur/setup.sh.
func npmHarness(t *testing.T) (node, script string) {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "internal", "interop", "bcur")
	missing := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...) + "; run internal/interop/bcur/setup.sh"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node not found: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@ngraveio", "bc-ur", "package.json")); err != nil {
		missing("@ngraveio/bc-ur not installed in %s", dir)
	}
	return node, filepath.Join(dir, "interop.js")
}

func runNPM(t *testing.T, node, script string, req, resp any) {
	t.Helper()
	in, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, script)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node %s: %v\n%s", script, err, stderr.String())
	}
	if err := json.Unmarshal(out, resp); err != nil {
		t.Fatalf("node output %q: %v", out, err)
	}
}

type npmDecoded struct {
	Complete bool   `json:"complete"`
	Success  bool   `json:"success"`
	Type     string `json:"type"`
	Hex      string `json:"hex"`
	Error    string `json:"error"`
}

func TestInteropNgraveio(t *testing.T) {
	node, script := npmHarness(t)
	rng := rand.New(rand.NewPCG(7, 8))
	for _, tc := range []struct {
		typ        string
		size, frag int
	}{
		{"bytes", 50, 1000},
		{"bytes", 256, 30},
		{"kesrotate-bundle", 1800, 200},
		{"kesrotate-snapshot", 700, 200},
		{"kesrotate-enrollment", 180, 200},
		{"bytes", 5000, 117},
		{"bytes", 3, 10},
	} {
		t.Run(fmt.Sprintf("%s-%d-%d", tc.typ, tc.size, tc.frag), func(t *testing.T) {
			msg := make([]byte, tc.size)
			for i := range msg {
				msg[i] = byte(rng.IntN(256))
			}
			enc, err := Encode(tc.typ, msg, tc.frag)
			if err != nil {
				t.Fatal(err)
			}
			n := 3*enc.SeqLen() + 10
			ours := parts(t, tc.typ, msg, tc.frag, n)

			// (a) the first n parts are identical
			var theirs struct{ Parts []string }
			runNPM(t, node, script, map[string]any{
				"op": "encode", "type": tc.typ, "hex": hex.EncodeToString(msg), "maxFragmentLen": tc.frag, "count": n,
			}, &theirs)
			if !slices.Equal(ours, theirs.Parts) {
				for i := range ours {
					if i >= len(theirs.Parts) || ours[i] != theirs.Parts[i] {
						t.Fatalf("part %d: ours %q, npm %q", i+1, ours[i], theirs.Parts[i:min(i+1, len(theirs.Parts))])
					}
				}
				t.Fatalf("got %d parts from npm, want %d", len(theirs.Parts), len(ours))
			}

			// (b) our lossy stream decodes in npm
			lossy := func(in []string) []string {
				var out []string
				for i, p := range in {
					if enc.SeqLen() == 1 || i%3 != 1 {
						out = append(out, p)
					}
				}
				return out
			}
			var got npmDecoded
			runNPM(t, node, script, map[string]any{"op": "decode", "parts": lossy(ours)}, &got)
			if !got.Complete || !got.Success || got.Type != tc.typ || got.Hex != hex.EncodeToString(msg) {
				t.Fatalf("npm decoded %+v, want type %s and the message", got, tc.typ)
			}

			// (c) npm's lossy stream decodes in ours
			var d Decoder
			for _, p := range lossy(theirs.Parts) {
				if d.Complete() {
					break
				}
				if err := d.Receive(p); err != nil {
					t.Fatal(err)
				}
			}
			res, err := d.Result()
			if err != nil || !bytes.Equal(res, msg) || d.Type() != tc.typ {
				t.Fatalf("got %s %x, %v, want %s %x", d.Type(), res, err, tc.typ, msg)
			}
		})
	}
}
