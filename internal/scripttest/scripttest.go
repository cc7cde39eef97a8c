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
