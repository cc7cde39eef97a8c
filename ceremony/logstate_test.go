package ceremony

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/kesrotate/kesrotate/auditlog"
	"github.com/kesrotate/kesrotate/transfer/qr"
)

func TestReadCheckpoints(t *testing.T) {
	v := newVault(t)
	if _, err := v.NewPool("alpha", t0); err != nil {
		t.Fatal(err)
	}
	note, err := os.ReadFile(filepath.Join(v.LogDir(), auditlog.FileCheckpoint))
	if err != nil {
		t.Fatal(err)
	}
	png, err := qr.EncodePNG(string(note), qr.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	notePath := write("kept.note", note)
	write(CheckpointQR, png)
	write("frame-01.png", png) // a bundle frame's name: not read from a folder
	write("README", []byte("hello"))

	got, err := ReadCheckpoints(dir)
	if err != nil || len(got) != 2 || string(got[0]) != string(note) || string(got[1]) != string(note) {
		t.Fatalf("a folder: got %d checkpoints, %v, want the note and the QR code", len(got), err)
	}
	if got, err := ReadCheckpoints(notePath); err != nil || len(got) != 1 {
		t.Errorf("one note: got %d, %v", len(got), err)
	}
	if _, err := ReadCheckpoints(filepath.Join(dir, "README")); !errors.Is(err, ErrCheckpointFile) {
		t.Errorf("a file of another kind: got %v, want ErrCheckpointFile", err)
	}
	if _, err := ReadCheckpoints(t.TempDir()); !errors.Is(err, ErrNoCheckpoint) {
		t.Errorf("an empty folder: got %v, want ErrNoCheckpoint", err)
	}
	other, _ := qr.EncodePNG("not a checkpoint", qr.Options{})
	if _, err := ReadCheckpoints(write("checkpoint-2.png", other)); err == nil {
		t.Error("a QR code of other text was read as a checkpoint")
	}
}

func TestLogState(t *testing.T) {
	v := newVault(t)
	p, err := v.NewPool("alpha", t0)
	if err != nil {
		t.Fatal(err)
	}
	st, err := v.LogState()
	if err != nil || st.Verify != nil || st.Unreadable != nil || len(st.Gaps) != 0 || st.Checkpoint == nil || st.Checkpoint.Size != int64(len(st.Entries)) {
		t.Fatalf("a whole log: got %+v, %v", st, err)
	}
	crashAfterJournal(t, p)
	if st, err = v.LogState(); err != nil || len(st.Gaps) != 1 || st.Verify != nil {
		t.Errorf("after a crash: got gaps %v, verify %v, %v; want one gap, a log that verifies", st.Gaps, st.Verify, err)
	}
	f, err := os.OpenFile(filepath.Join(v.LogDir(), auditlog.FileEntries), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("not json\n")
	f.Close()
	if st, err = v.LogState(); err != nil || st.Unreadable == nil || st.Verify == nil || len(st.Entries) == 0 {
		t.Errorf("a damaged line: got %d entries, unreadable %v, verify %v, %v", len(st.Entries), st.Unreadable, st.Verify, err)
	}
}
