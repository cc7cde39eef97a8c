// Package scripttest holds the testscript settings the end-to-end tests of
// both binaries share.
package scripttest

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	_ "image/png" // mjpeg reads PNG frames
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/kesrotate/kesrotate/internal/cli"
	"github.com/kesrotate/kesrotate/internal/vectors"
)

// Params are the testscript settings shared by the cold-side scripts:
// $VECTORS points at the external vectors, and three extra commands check
// file modes, JSON fields and that a folder did not change.
func Params(t *testing.T, dir string) testscript.Params {
	vec := vectors.Dir(t)
	return testscript.Params{
		Dir: dir,
		Setup: func(e *testscript.Env) error {
			e.Setenv("VECTORS", vec)
			e.Setenv("KESROTATE_VAULT", "")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// mode FILE 0600: the file's permission bits.
			"mode": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: mode FILE PERM")
				}
				fi, err := os.Stat(ts.MkAbs(args[0]))
				ts.Check(err)
				want, err := strconv.ParseUint(args[1], 8, 32)
				ts.Check(err)
				if got := uint64(fi.Mode().Perm()); (got == want) == neg {
					ts.Fatalf("%s has mode %04o, want %s%04o", args[0], got, map[bool]string{true: "not ", false: ""}[neg], want)
				}
			},
			// snapshot DIR NAME / unchanged DIR NAME: a folder's files and
			// contents are the same as when the snapshot was taken.
			"snapshot": func(ts *testscript.TestScript, neg bool, args []string) {
				ts.Setenv("SNAP_"+args[1], treeDigest(ts, ts.MkAbs(args[0])))
			},
			// mjpeg OUT IMG…: the images re-encoded as JPEGs one after
			// another, the MJPEG stream a webcam tool writes to a pipe.
			"mjpeg": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) < 2 {
					ts.Fatalf("usage: mjpeg OUT IMG…")
				}
				var buf bytes.Buffer
				for _, p := range args[1:] {
					f, err := os.Open(ts.MkAbs(p))
					ts.Check(err)
					img, _, err := image.Decode(f)
					f.Close()
					ts.Check(err)
					ts.Check(jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}))
				}
				ts.Check(os.WriteFile(ts.MkAbs(args[0]), buf.Bytes(), 0o644))
			},
			"unchanged": func(ts *testscript.TestScript, neg bool, args []string) {
				got := treeDigest(ts, ts.MkAbs(args[0]))
				if (got == ts.Getenv("SNAP_"+args[1])) == neg {
					ts.Fatalf("%s changed: %v", args[0], !neg)
				}
			},
		},
	}
}

func treeDigest(ts *testscript.TestScript, root string) string {
	var b strings.Builder
	var walk func(string)
	walk = func(dir string) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			fmt.Fprintf(&b, "%s: %v\n", dir, err)
			return
		}
		for _, e := range entries {
			p := dir + "/" + e.Name()
			if e.IsDir() {
				fmt.Fprintf(&b, "d %s\n", p)
				walk(p)
				continue
			}
			data, err := os.ReadFile(p)
			ts.Check(err)
			fi, _ := e.Info()
			fmt.Fprintf(&b, "f %s %o %x\n", p, fi.Mode().Perm(), data)
		}
	}
	walk(root)
	return b.String()
}

// JSONShape is the script command "jsonshape 'kesrotate pool new'": the
// last command's stdout has exactly the shape that command declares in
// outs (cli.CheckJSON), so each command's real output is held to the type
// docs/formats.md documents.
func JSONShape(outs ...cli.Outputs) func(ts *testscript.TestScript, neg bool, args []string) {
	return func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 1 {
			ts.Fatalf("usage: jsonshape 'COMMAND PATH'")
		}
		var want any
		found := false
		for _, o := range outs {
			if v, ok := o[args[0]]; ok {
				want, found = v, true
			}
		}
		if !found {
			ts.Fatalf("%q declares no JSON output", args[0])
		}
		err := cli.CheckJSON([]byte(ts.ReadFile("stdout")), want)
		if (err == nil) == neg {
			ts.Fatalf("stdout of %s: %v", args[0], err)
		}
	}
}

// CheckOutputs holds the JSON outputs a binary declares to the tables of
// docs/formats.md (at formats): each declared type has a shape
// (cli.Shape), and the table under "### `COMMAND`" lists exactly its keys
// and types, in order. A changed output fails here until its documentation
// changes with it.
func CheckOutputs(t *testing.T, outs cli.Outputs, formats string) {
	t.Helper()
	md, err := os.ReadFile(formats)
	if err != nil {
		t.Fatal(err)
	}
	docs := cli.DocumentedShapes(md)
	for cmd, v := range outs {
		shape, err := cli.Shape(v)
		if err != nil {
			t.Errorf("%s: %v", cmd, err)
			continue
		}
		doc, ok := docs[cmd]
		if !ok {
			t.Errorf("%s: %s has no table under \"### `%s`\"", cmd, formats, cmd)
			continue
		}
		if fmt.Sprint(doc) != fmt.Sprint(shape) {
			var want strings.Builder
			for _, f := range shape {
				fmt.Fprintf(&want, "| `%s` | %s | |\n", f.Key, f.Type)
			}
			t.Errorf("%s: the table in %s does not match %T; its rows should be:\n%s", cmd, formats, v, want.String())
		}
	}
}
