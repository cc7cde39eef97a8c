package auditlog

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

// saved is f's log flushed (its state saved), opened again.
func saved(t *testing.T, f *fixture) *Log {
	t.Helper()
	if err := f.log.Flush(); err != nil {
		t.Fatal(err)
	}
	l, err := Open(f.dir, f.key)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func fromState(l *Log) bool { return l.tree.sparse != nil }

// TestOpenFromState: the saved state opens the log without reading its
// entries, and appends go on from it to a log that verifies.
func TestOpenFromState(t *testing.T) {
	f := standard(t, 1)
	l := saved(t, f)
	if !fromState(l) {
		t.Fatal("Open did not use the saved state")
	}
	if l.Size() != f.log.Size() || l.Checkpoint().Root != f.log.Checkpoint().Root {
		t.Fatal("the state's log differs from the log")
	}
	next := cert(f.pool, 2, U64(1), 160, "c2")
	if err := l.Check(next); err != nil {
		t.Fatalf("Check of the next cert: %v", err)
	}
	if err := l.Check(cert(f.pool, 5, U64(1), 160, "c5")); !errors.Is(err, ErrSemantics) {
		t.Errorf("Check of an over-incremented cert: got %v, want ErrSemantics", err)
	}
	if _, _, err := l.Append(next); err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.Append(bundle(f.pool, "c2")); err != nil {
		t.Fatal(err)
	}
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(f.dir, f.opts()); err != nil {
		t.Fatalf("Verify after appends from the state: %v", err)
	}
	m, err := Open(f.dir, f.key)
	if err != nil || !fromState(m) || m.Size() != 10 {
		t.Fatalf("reopen: %v (from state %v)", err, m != nil && fromState(m))
	}
}

// TestStateThatDoesNotFit: a state that is changed, stale, for another
// log, or torn is not used; the whole log is checked as before.
func TestStateThatDoesNotFit(t *testing.T) {
	for name, spoil := range map[string]func(t *testing.T, f *fixture){
		"byte changed": func(t *testing.T, f *fixture) {
			p := filepath.Join(f.dir, FileState)
			b, _ := os.ReadFile(p)
			b[20] ^= 1
			write(t, p, b)
		},
		"torn": func(t *testing.T, f *fixture) {
			p := filepath.Join(f.dir, FileState)
			b, _ := os.ReadFile(p)
			write(t, p, b[:len(b)/2])
		},
		"log appended since": func(t *testing.T, f *fixture) { f.appendT(t, base(KindBackupMade, 50)) },
		"another vault's": func(t *testing.T, f *fixture) {
			g := standard(t, 2)
			if err := g.log.Flush(); err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(filepath.Join(g.dir, FileState))
			write(t, filepath.Join(f.dir, FileState), b)
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := standard(t, 1)
			if err := f.log.Flush(); err != nil {
				t.Fatal(err)
			}
			spoil(t, f)
			l, err := Open(f.dir, f.key)
			if err != nil {
				t.Fatal(err)
			}
			if fromState(l) {
				t.Error("Open used a state that does not fit the log")
			}
		})
	}
	// A line appended by hand (no checkpoint): unsealed, as without a state.
	f := standard(t, 1)
	if err := f.log.Flush(); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, f.dir)
	writeLines(t, f.dir, append(lines, lines[len(lines)-1]))
	if _, err := Open(f.dir, f.key); !errors.Is(err, ErrTampered) && !errors.Is(err, ErrUnsealed) {
		t.Errorf("extra line: got %v, want the full check's error", err)
	}
}

// TestForgedStateCannotBlockOrRedirect: a state signed with the audit key
// that claims a higher counter than the pool's cold key ever signed, or a
// pin the cold key did not sign, is worth nothing: the claim is checked
// against its cold-key evidence, which fails, and the log is checked in
// full.
func TestForgedStateCannotBlockOrRedirect(t *testing.T) {
	f := standard(t, 1)
	if err := f.log.Flush(); err != nil {
		t.Fatal(err)
	}
	resignState(t, f, func(st *stateFile) {
		st.Pools[0].Run.LastCtr = 99 // blocks every genuine next cert
	})
	l, err := Open(f.dir, f.key)
	if err != nil || !fromState(l) {
		t.Fatalf("open: %v", err)
	}
	if err := l.Check(cert(f.pool, 2, U64(1), 160, "c2")); err != nil {
		t.Errorf("a forged counter blocked the genuine next cert: %v", err)
	}
	if fromState(l) {
		t.Error("the log was not reloaded after the evidence failed")
	}

	resignState(t, f, func(st *stateFile) {
		st.Pins = append(st.Pins, PinRecord{Producer: "evil", Pool: f.pool, Fingerprint: "AAAA-BBBB-CCCC-DDDD", Enrollment: hash("x"), Seq: 3, Signed: true})
	})
	m, err := Open(f.dir, f.key)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Pin("evil"); ok {
		t.Error("a pin without a cold-key signature was trusted")
	}
	if pins, err := Pins(f.dir); err != nil || len(pins) != 0 {
		t.Errorf("Pins: got %v, %v, want none", pins, err)
	}
	if _, ok, err := PinOf(f.dir, "evil"); ok || err != nil {
		t.Errorf("PinOf: got %v, %v, want none", ok, err)
	}
}

// TestEditInsideIsForVerify: an entry edited in place, the length and
// the last line kept, is not seen by Open, which reads neither: Verify
// finds it, and the appends made meanwhile do not hide it.
func TestEditInsideIsForVerify(t *testing.T) {
	f := standard(t, 1)
	if err := f.log.Flush(); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, f.dir)
	lines[1] = bytes.Replace(lines[1], []byte(`"operator":"alice"`), []byte(`"operator":"mallo"`), 1)
	writeLines(t, f.dir, lines)
	l, err := Open(f.dir, f.key)
	if err != nil || !fromState(l) {
		t.Fatalf("open: %v", err)
	}
	if _, _, err := l.Append(base(KindBackupMade, 60)); err != nil {
		t.Fatal(err)
	}
	_, err = Verify(f.dir, f.opts())
	wantSeq(t, wantErr(t, err, ErrTampered), 1)
}

func write(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// resignState edits f's saved state and signs it again with the audit
// key, as someone holding that key (not the cold key) could.
func resignState(t *testing.T, f *fixture, edit func(*stateFile)) {
	t.Helper()
	p := filepath.Join(f.dir, FileState)
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	body, _, _ := bytes.Cut(raw, []byte("\n"))
	var st stateFile
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatal(err)
	}
	edit(&st)
	body, err = json.Marshal(&st)
	if err != nil {
		t.Fatal(err)
	}
	s, err := f.key.signer()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	sig, err := note.Sign(&note.Note{Text: stateMagic + hex.EncodeToString(sum[:]) + "\n"}, s)
	if err != nil {
		t.Fatal(err)
	}
	write(t, p, append(append(body, '\n'), sig...))
}
