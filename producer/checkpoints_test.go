package producer

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kesrotate/kesrotate/auditlog"

	"golang.org/x/mod/sumdb/note"
)

// checkpointNote signs a C2SP tlog checkpoint for vault id with a fresh
// key and returns the note and the verifier key.
func checkpointNote(t *testing.T, vault string, size int) ([]byte, string) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, "kesrotate.vault/"+vault)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	root := make([]byte, 32)
	text := fmt.Sprintf("kesrotate.vault/%s\n%d\n%s\n", vault, size, base64.StdEncoding.EncodeToString(root))
	msg, err := note.Sign(&note.Note{Text: text}, s)
	if err != nil {
		t.Fatal(err)
	}
	return msg, vkey
}

func TestKeepCheckpointChecksIt(t *testing.T) {
	f := newFixture(t, true, nil)
	good, vkey := checkpointNote(t, "6103d8dbb2da40e56052d8aace9930c2", 6)
	if _, err := f.a.KeepCheckpoint([]byte("not a checkpoint\n")); !errors.Is(err, ErrCheckpoint) {
		t.Errorf("garbage: got %v, want ErrCheckpoint", err)
	}
	if _, err := f.a.KeepCheckpoint(good); err != nil {
		t.Fatalf("first checkpoint: %v", err)
	}
	other, _ := checkpointNote(t, "7103d8dbb2da40e56052d8aace9930c2", 7)
	if _, err := f.a.KeepCheckpoint(other); !errors.Is(err, ErrCheckpoint) {
		t.Errorf("another vault's: got %v, want ErrCheckpoint", err)
	}
	// With the vault's audit key pinned, a note by another key of the
	// same name is refused.
	f.a.Config.AuditKey = vkey
	forged, _ := checkpointNote(t, "6103d8dbb2da40e56052d8aace9930c2", 8)
	if _, err := f.a.KeepCheckpoint(forged); !errors.Is(err, ErrCheckpoint) {
		t.Errorf("forged: got %v, want ErrCheckpoint", err)
	}
	if _, err := f.a.KeepCheckpoint(good); err != nil {
		t.Errorf("the genuine one again: %v", err)
	}
	if kept, _ := f.a.Checkpoints(); len(kept) != 1 {
		t.Errorf("got %d kept, want 1", len(kept))
	}
}

func TestKeptCheckpoints(t *testing.T) {
	f := newFixture(t, true, nil)
	msg, vkey := checkpointNote(t, "6103d8dbb2da40e56052d8aace9930c2", 6)
	if _, err := f.a.KeepCheckpoint(msg); err != nil {
		t.Fatal(err)
	}
	stray := filepath.Join(f.a.Dir, CheckpointsDir, "stray.note")
	if err := os.WriteFile(stray, []byte("not a note\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	kept, err := f.a.KeptCheckpoints()
	if err != nil || len(kept) != 2 {
		t.Fatalf("got %+v, %v, want two files", kept, err)
	}
	var good, bad *KeptCheckpoint
	for i := range kept {
		if kept[i].File == stray {
			bad = &kept[i]
		} else {
			good = &kept[i]
		}
	}
	if bad == nil || bad.Err == nil {
		t.Errorf("the stray file: %+v, want its error", bad)
	}
	want, _ := auditlog.ParseCheckpoint(msg)
	if good == nil || good.Err != nil || good.Size != 6 || good.Root != want.Root || good.Signatures != 1 ||
		good.RootBase64() != strings.Split(string(msg), "\n")[2] {
		t.Errorf("got %+v, want size 6, the note's root and one signature", good)
	}

	// One reader for audit.pub, whatever white space surrounds the key.
	for _, in := range []string{vkey, vkey + "\n", " " + vkey + "\r\n"} {
		if got, err := ReadAuditKey([]byte(in)); err != nil || got != vkey {
			t.Errorf("ReadAuditKey(%q) = %q, %v, want %q", in, got, err, vkey)
		}
	}
	if _, err := ReadAuditKey([]byte("kesrotate.vault/x+zzzz+AAAA\n")); !errors.Is(err, ErrAuditKey) {
		t.Errorf("garbage: got %v, want ErrAuditKey", err)
	}
}

// A note given by hand must be a checkpoint: the library says so, the
// command only prints it.
func TestAddCheckpointRefusesNonNotes(t *testing.T) {
	f := newFixture(t, true, nil)
	for _, note := range [][]byte{nil, []byte("hello\n")} {
		if p, err := f.a.AddCheckpoint(note); !errors.Is(err, ErrCheckpoint) || p != "" {
			t.Errorf("%q: got %q, %v, want ErrCheckpoint", note, p, err)
		}
	}
}

// Countersign tells a kept file that is not a checkpoint at all (safe to
// move away) from a checkpoint that does not verify under the audit key
// given (evidence: auditlog.ErrBadSignature, auditlog.ErrForeignLog).
func TestCountersignFailures(t *testing.T) {
	const vault = "6103d8dbb2da40e56052d8aace9930c2"
	setup := func(t *testing.T, extra []byte) (*fixture, string) {
		f := newFixture(t, true, nil)
		good, vkey := checkpointNote(t, vault, 6)
		if _, err := f.a.KeepCheckpoint(good); err != nil {
			t.Fatal(err)
		}
		if extra != nil {
			if err := os.WriteFile(filepath.Join(f.a.Dir, CheckpointsDir, "zz.note"), extra, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return f, vkey
	}
	forged, _ := checkpointNote(t, vault, 8) // same name, another key
	_, foreignKey := checkpointNote(t, "7103d8dbb2da40e56052d8aace9930c2", 6)
	tests := []struct {
		name     string
		extra    []byte
		auditKey func(vkey string) string
		want     error
		wantNot  error
	}{
		{"garbage, no audit key", []byte("not a checkpoint\n"), func(string) string { return "" }, ErrNotCheckpoint, nil},
		{"garbage, audit key", []byte("not a checkpoint\n"), func(v string) string { return v }, ErrNotCheckpoint, nil},
		{"forged under the audit key", forged, func(v string) string { return v }, auditlog.ErrBadSignature, ErrNotCheckpoint},
		{"another vault's audit key", nil, func(string) string { return foreignKey }, auditlog.ErrForeignLog, ErrNotCheckpoint},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, vkey := setup(t, tt.extra)
			_, err := f.a.Countersign(filepath.Join(t.TempDir(), "out"), tt.auditKey(vkey))
			if !errors.Is(err, tt.want) || (tt.wantNot != nil && errors.Is(err, tt.wantNot)) {
				t.Errorf("got %v, want %v and not %v", err, tt.want, tt.wantNot)
			}
		})
	}
}
