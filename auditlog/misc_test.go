package auditlog

import (
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
)

func statMode(p string) (os.FileMode, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return 0, err
	}
	return fi.Mode().Perm(), nil
}

func TestCountersign(t *testing.T) {
	f := standard(t, 1)
	prodKey := coldKey(99)
	prod, err := NewEd25519Signer("producer.example", prodKey)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := Countersign(f.log.Checkpoint().Note, f.vkey, prod)
	if err != nil {
		t.Fatal(err)
	}
	c, err := OpenCheckpoint(msg, f.vkey)
	if err != nil {
		t.Fatalf("open with the audit key alone: %v", err)
	}
	if c.Size != 8 || c.Origin != Origin(f.vaultID) {
		t.Errorf("got size %d origin %s, want 8 %s", c.Size, c.Origin, Origin(f.vaultID))
	}
	pv, err := NewEd25519VerifierKey("producer.example", prodKey.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(pv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := note.Open(msg, note.VerifierList(v)); err != nil {
		t.Errorf("open with the producer key alone: %v", err)
	}
	opts := f.opts()
	opts.Checkpoints = [][]byte{msg}
	r, err := Verify(f.dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	last := r.Checkpoints[len(r.Checkpoints)-1]
	if last.File != "extra[0]" || strings.Join(last.Signers, ",") != Origin(f.vaultID)+",producer.example" {
		t.Errorf("got %+v, want extra[0] signed by audit key and producer", last)
	}
	// Countersigning needs a valid audit signature.
	forged := []byte(strings.Replace(string(f.log.Checkpoint().Note), "\n8\n", "\n9\n", 1))
	if _, err := Countersign(forged, f.vkey, prod); !errors.Is(err, ErrBadSignature) {
		t.Errorf("got %v, want ErrBadSignature", err)
	}
	if _, err := ParseCheckpoint(msg); err != nil {
		t.Errorf("ParseCheckpoint: %v", err)
	}
	if _, err := NewEd25519Signer("bad name", prodKey); err == nil {
		t.Error("got nil for a name with a space, want an error")
	}
}

func TestCrashRecovery(t *testing.T) {
	t.Run("entry written, checkpoint not", func(t *testing.T) {
		f := standard(t, 1)
		e := base(KindBackupMade, 50)
		e.Seq = 8
		line, err := marshalEntry(&e)
		if err != nil {
			t.Fatal(err)
		}
		if err := appendLine(filepath.Join(f.dir, FileEntries), line); err != nil {
			t.Fatal(err)
		}
		_, err = Verify(f.dir, f.opts())
		wantSeq(t, wantErr(t, err, ErrUnsealed), 8)
		if _, err := Open(f.dir, f.key); !errors.Is(err, ErrUnsealed) {
			t.Fatalf("Open: got %v, want ErrUnsealed", err)
		}
		c, err := Seal(f.dir, f.key)
		if err != nil || c.Size != 9 {
			t.Fatalf("Seal: got size %d, %v; want 9", c.Size, err)
		}
		if _, err := Verify(f.dir, f.opts()); err != nil {
			t.Fatalf("after Seal: %v", err)
		}
	})
	t.Run("torn line", func(t *testing.T) {
		f := standard(t, 1)
		p := filepath.Join(f.dir, FileEntries)
		fh, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fh.WriteString(`{"seq":8,"ki`); err != nil {
			t.Fatal(err)
		}
		fh.Close()
		_, err = Verify(f.dir, f.opts())
		wantErr(t, err, ErrUnsealed)
		if _, err := Entries(f.dir); !errors.Is(err, ErrUnsealed) {
			t.Errorf("Entries: got %v, want ErrUnsealed", err)
		}
		if c, err := Seal(f.dir, f.key); err != nil || c.Size != 8 {
			t.Fatalf("Seal: got %d, %v; want 8", c.Size, err)
		}
		l, err := Open(f.dir, f.key)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := l.Append(base(KindBackupMade, 60)); err != nil {
			t.Fatal(err)
		}
		if _, err := Verify(f.dir, f.opts()); err != nil {
			t.Fatalf("after Seal and Append: %v", err)
		}
	})
	t.Run("checkpoint file not replaced", func(t *testing.T) {
		f := standard(t, 1)
		old := mustRead(t, filepath.Join(f.dir, filepath.FromSlash(CheckpointFile(7))))
		if err := os.WriteFile(filepath.Join(f.dir, FileCheckpoint), old, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(f.dir, "."+FileCheckpoint+".tmp-123"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Verify(f.dir, f.opts()); err != nil {
			t.Fatalf("got %v, want the interrupted append to verify", err)
		}
		if _, err := Open(f.dir, f.key); err != nil {
			t.Fatal(err)
		}
		if got := mustRead(t, filepath.Join(f.dir, FileCheckpoint)); string(got) != string(f.log.Checkpoint().Note) {
			t.Errorf("Open did not restore %s", FileCheckpoint)
		}
		if _, err := os.Stat(filepath.Join(f.dir, "."+FileCheckpoint+".tmp-123")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("got %v, want the temp file removed", err)
		}
	})
	// A crash inside the checkpoint write leaves safefile's temp file in
	// checkpoints/: that is an interrupted append (unsealed, for 'ceremony
	// seal'), not tampering.
	t.Run("temp file left among checkpoints", func(t *testing.T) {
		f := standard(t, 1)
		tmp := filepath.Join(f.dir, DirCheckpoints, ".8.note.tmp-2841077")
		if err := os.WriteFile(tmp, []byte("kesrotate.vault/"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Verify(f.dir, f.opts())
		wantErr(t, err, ErrUnsealed)
		if errors.Is(err, ErrTampered) {
			t.Errorf("got %v, want it not called tampered", err)
		}
		if _, err := Seal(f.dir, f.key); err != nil {
			t.Fatal(err)
		}
		if _, err := Verify(f.dir, f.opts()); err != nil {
			t.Fatalf("after Seal: %v", err)
		}
		if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("got %v, want the temp file removed", err)
		}
	})
	t.Run("create on non-empty dir", func(t *testing.T) {
		f := standard(t, 1)
		if _, _, err := Create(f.dir, f.key, base(KindInit, 0)); !errors.Is(err, ErrExists) {
			t.Errorf("got %v, want ErrExists", err)
		}
	})
	t.Run("open with another key", func(t *testing.T) {
		f, g := standard(t, 1), standard(t, 2)
		if _, err := Open(f.dir, g.key); err == nil {
			t.Error("got nil, want an error")
		}
	})
}

func TestEntryValidation(t *testing.T) {
	good := cert(poolHex(coldKey(1)), 0, nil, 5, "a")
	good.Seq = 4
	line, err := marshalEntry(&good)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseEntry(line); err != nil {
		t.Fatalf("good entry: %v", err)
	}
	s := string(line)
	tests := []struct{ name, line string }{
		{"space", strings.Replace(s, `"kind":`, `"kind": `, 1)},
		{"field order", strings.Replace(strings.Replace(s, `"seq":4,`, ``, 1), `"kind":"cert-issued"`, `"kind":"cert-issued","seq":4`, 1)},
		{"unknown field", strings.Replace(s, `"seq":4`, `"seq":4,"key":"x"`, 1)},
		{"duplicate field", strings.Replace(s, `"seq":4`, `"seq":3,"seq":4`, 1)},
		{"upper-case name", strings.Replace(s, `"seq":4`, `"SEQ":4`, 1)},
		{"offset time", strings.Replace(s, `"time":"2026-03-01T12:10:00Z"`, `"time":"2026-03-01T12:10:00+00:00"`, 1)},
		{"fractional time", strings.Replace(s, `"time":"2026-03-01T12:10:00Z"`, `"time":"2026-03-01T12:10:00.5Z"`, 1)},
		{"upper-case hex", strings.Replace(s, good.CertHash, strings.ToUpper(good.CertHash), 1)},
		{"unknown kind", strings.Replace(s, `cert-issued`, `cert-isued`, 1)},
		{"trailing", s + " "},
		{"two objects", s + s},
		{"counter missing", strings.Replace(s, `"counter":0,`, ``, 1)},
		{"escaped", strings.Replace(s, `"operator":"alice"`, `"operator":"\u0061lice"`, 1)},
		{"float", strings.Replace(s, `"counter":0`, `"counter":0.0`, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.line == s {
				t.Fatal("edit did not apply")
			}
			if _, err := ParseEntry([]byte(tt.line)); err == nil {
				t.Errorf("got nil, want an error")
			}
		})
	}
	secret := []func(e *Entry){
		func(e *Entry) { e.Detail = map[string]string{"flag": "PRIVATE+KEY+x"} },
		func(e *Entry) { e.Files[0].Role = "StakePoolSigningKey_ed25519" },
		func(e *Entry) { e.Operator = "AGE-SECRET-KEY-1QQQ" },
		func(e *Entry) { e.Operator = "a\nb" },
		func(e *Entry) { e.Operator = strings.Repeat("x", 300) },
		// Whether fingerprints were compared is said of a pin only, as
		// true or false.
		func(e *Entry) { e.Detail = map[string]string{DetailCompared: "true"} },
	}
	for i, edit := range secret {
		e := cert(poolHex(coldKey(1)), 0, nil, 5, "a")
		edit(&e)
		if err := e.Validate(); !errors.Is(err, ErrInvalidEntry) {
			t.Errorf("case %d: got %v, want ErrInvalidEntry", i, err)
		}
	}
}

// A producer-add entry says whether the operator compared fingerprints
// with true or false; one without the detail (older logs) stays valid.
func TestCompareDetail(t *testing.T) {
	for _, c := range []struct {
		detail map[string]string
		ok     bool
	}{
		{map[string]string{DetailProducer: "bp1", DetailFingerprint: "AAAA-BBBB-CCCC-DDDD"}, true},
		{map[string]string{DetailProducer: "bp1", DetailFingerprint: "AAAA-BBBB-CCCC-DDDD", DetailCompared: "true"}, true},
		{map[string]string{DetailProducer: "bp1", DetailFingerprint: "AAAA-BBBB-CCCC-DDDD", DetailCompared: "false"}, true},
		{map[string]string{DetailProducer: "bp1", DetailFingerprint: "AAAA-BBBB-CCCC-DDDD", DetailCompared: "yes"}, false},
		{map[string]string{DetailProducer: "bp1", DetailFingerprint: "AAAA-BBBB-CCCC-DDDD", DetailCompared: ""}, false},
	} {
		e := Entry{Kind: KindProducerAdd, Time: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), BinarySHA256: strings.Repeat("ab", 32), Version: "v1",
			Pool: poolHex(coldKey(1)), Detail: c.detail}
		if err := e.Validate(); (err == nil) != c.ok {
			t.Errorf("detail %v: got %v, want valid %v", c.detail, err, c.ok)
		}
	}
}

// New entries hold no text that changes how a line reads (bidirectional
// overrides, zero-width marks); lines an older version wrote with such
// text still parse, so old logs keep verifying, and are shown escaped.
func TestBidiTextRefusedInNewEntriesOnly(t *testing.T) {
	for _, edit := range []func(e *Entry){
		func(e *Entry) { e.Detail = map[string]string{"installed_cert_hash": "ab\u202eba"} },
		func(e *Entry) { e.Operator = "alice\u202e" },
		func(e *Entry) { e.Witnesses = []string{"b\u200bob"} },
		func(e *Entry) { e.Files[0].Name = "snap\u2066.json" },
	} {
		e := cert(poolHex(coldKey(1)), 0, nil, 5, "a")
		edit(&e)
		if err := e.Validate(); !errors.Is(err, ErrInvalidEntry) {
			t.Errorf("%+v: got %v, want ErrInvalidEntry", e, err)
		}
		line, err := marshalEntry(&e)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseEntry(line); err != nil {
			t.Errorf("an old line with such text: got %v, want it read", err)
		}
	}
}

// Two writers that both opened the log at the same size (the vault's lock
// bypassed, or two vaults on one log) race to append: exactly one entry
// lands at that index, the others are refused, and the log verifies.
func TestRacingAppendsNeverShareAnIndex(t *testing.T) {
	t.Run("two in turn", func(t *testing.T) {
		f := standard(t, 1)
		l1, err := Open(f.dir, f.key)
		if err != nil {
			t.Fatal(err)
		}
		l2, err := Open(f.dir, f.key)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := l1.Append(base(KindBackupMade, 50)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := l2.Append(base(KindBackupMade, 51)); !errors.Is(err, ErrConcurrent) {
			t.Errorf("second writer: got %v, want ErrConcurrent", err)
		}
		r, err := Verify(f.dir, f.opts())
		if err != nil || r.TreeSize != 9 {
			t.Errorf("got size %d, %v; want a verifying log of 9 entries", r.TreeSize, err)
		}
	})
	t.Run("eight at once", func(t *testing.T) {
		f := standard(t, 1)
		const n = 8
		logs := make([]*Log, n)
		for i := range logs {
			l, err := Open(f.dir, f.key)
			if err != nil {
				t.Fatal(err)
			}
			logs[i] = l
		}
		start := make(chan struct{})
		errs := make(chan error, n)
		for i, l := range logs {
			go func() {
				<-start
				_, _, err := l.Append(base(KindBackupMade, 50+i))
				errs <- err
			}()
		}
		close(start)
		won := 0
		for range n {
			switch err := <-errs; {
			case err == nil:
				won++
			case !errors.Is(err, ErrConcurrent):
				t.Errorf("got %v, want nil or ErrConcurrent", err)
			}
		}
		if won != 1 {
			t.Errorf("%d appends succeeded at one index, want exactly 1", won)
		}
		r, err := Verify(f.dir, f.opts())
		if err != nil || r.TreeSize != 9 {
			t.Errorf("got size %d, %v; want a verifying log of 9 entries", r.TreeSize, err)
		}
	})
}

// TestParseVerifierKey: a verifier key file is its one line of key text;
// anything else is an ErrVerifierKey.
func TestParseVerifierKey(t *testing.T) {
	s, err := NewEd25519Signer("producer.example", coldKey(99))
	if err != nil {
		t.Fatal(err)
	}
	text, err := NewEd25519VerifierKey("producer.example", coldKey(99).Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data string
		ok   bool
	}{
		{"as written", text + "\n", true},
		{"with blank lines", "\n" + text + "\r\n\n", true},
		{"empty", "", false},
		{"a signing key", "PRIVATE+KEY+producer.example+" + text, false},
		{"two keys", text + "\n" + text + "\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := ParseVerifierKey([]byte(tc.data))
			if !tc.ok {
				if !errors.Is(err, ErrVerifierKey) {
					t.Fatalf("got %v, want ErrVerifierKey", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v.Name() != s.Name() || v.KeyHash() != s.KeyHash() {
				t.Errorf("got %s %08x, want %s %08x", v.Name(), v.KeyHash(), s.Name(), s.KeyHash())
			}
		})
	}
}
