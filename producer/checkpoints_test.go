package producer

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"testing"

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
