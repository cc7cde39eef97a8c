package auditlog

import (
	"errors"
	"testing"
)

func TestSemantics(t *testing.T) {
	type step = func(f *fixture) Entry
	c := func(n uint64, onchain *uint64, period uint64, name string) step {
		return func(f *fixture) Entry { return cert(f.pool, n, onchain, period, name) }
	}
	tests := []struct {
		name  string
		bind  bool
		steps []step
		want  error // nil: verifies
		seq   int64
	}{
		{"first cert 0 never minted", true, []step{c(0, nil, 5, "a")}, nil, 0},
		{"first cert 1 never minted", true, []step{c(1, nil, 5, "a")}, nil, 0},
		{"first cert 2 never minted", true, []step{c(2, nil, 5, "a")}, ErrSemantics, 2},
		{"first cert m+1", true, []step{c(8, U64(7), 5, "a")}, nil, 0},
		{"first cert m", true, []step{c(7, U64(7), 5, "a")}, nil, 0},
		{"first cert m+2", true, []step{c(9, U64(7), 5, "a")}, ErrSemantics, 2},
		{"first cert below chain", true, []step{c(6, U64(7), 5, "a")}, ErrSemantics, 2},
		{"reissue same counter", true, []step{c(0, nil, 5, "a"), c(0, nil, 6, "b")}, nil, 0},
		{"counter skips", true, []step{c(0, nil, 5, "a"), c(2, U64(1), 6, "b")}, ErrSemantics, 3},
		{"counter lower", true, []step{c(3, U64(2), 5, "a"), c(2, U64(2), 6, "b")}, ErrSemantics, 3},
		{"KES period back", true, []step{c(0, nil, 5, "a"), c(1, U64(0), 4, "b")}, ErrSemantics, 3},
		{"KES period same", true, []step{c(0, nil, 5, "a"), c(1, U64(0), 5, "b")}, nil, 0},
		{"cert without binding", false, []step{c(0, nil, 5, "a")}, ErrBinding, 1},
		{"bundle after cert", true, []step{c(0, nil, 5, "a"), func(f *fixture) Entry { return bundle(f.pool, "a") }}, nil, 0},
		{"bundle for other pool", true, []step{c(0, nil, 5, "a"), func(f *fixture) Entry { return bundle(poolHex(coldKey(50)), "a") }}, ErrSemantics, 3},
		{"bundle before cert", true, []step{func(f *fixture) Entry { return bundle(f.pool, "a") }, c(0, nil, 5, "a")}, ErrSemantics, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newVault(t, t.TempDir()+"/log", 3)
			if tt.bind {
				f.bind(t)
			}
			var checkErr error
			for _, s := range tt.steps {
				e := s(f)
				if err := f.log.Check(e); err != nil && checkErr == nil {
					checkErr = err
				}
				f.appendT(t, e)
			}
			_, err := Verify(f.dir, f.opts())
			if tt.want == nil {
				if err != nil || checkErr != nil {
					t.Fatalf("got %v (Check: %v), want nil", err, checkErr)
				}
				return
			}
			wantSeq(t, wantErr(t, err, tt.want), tt.seq)
			if !errors.Is(checkErr, tt.want) {
				t.Errorf("Check: got %v, want %v", checkErr, tt.want)
			}
			// A recorded violation never locks the vault.
			if _, err := Open(f.dir, f.key); err != nil {
				t.Errorf("Open after a violation: got %v, want nil", err)
			}
		})
	}
}

// TestSemanticsRecoveryFromOverIncrement: after a forced, over-incremented
// cert (a recorded violation), the repair with on-chain m+1 is within the
// rules even though it is lower than the cert before it; any other lower
// number is not.
func TestSemanticsRecoveryFromOverIncrement(t *testing.T) {
	f := newVault(t, t.TempDir()+"/log", 3)
	f.bind(t)
	f.appendT(t, cert(f.pool, 3, U64(2), 5, "a"))
	f.appendT(t, cert(f.pool, 9, U64(3), 6, "b")) // forced: over-incremented
	if err := f.log.Check(cert(f.pool, 4, U64(3), 7, "c")); err != nil {
		t.Errorf("repair with m+1: got %v, want nil", err)
	}
	for _, n := range []uint64{3, 5, 8} {
		if err := f.log.Check(cert(f.pool, n, U64(3), 7, "c")); !errors.Is(err, ErrSemantics) {
			t.Errorf("counter %d after 9 with the chain at 3: got %v, want ErrSemantics", n, err)
		}
	}
	if err := f.log.Check(cert(f.pool, 4, U64(9), 7, "c")); !errors.Is(err, ErrSemantics) {
		t.Errorf("lower than a cert the chain has seen: got %v, want ErrSemantics", err)
	}
}
