package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/opcert"
	"github.com/kesrotate/kesrotate/transfer"
)

// TestVectorsAreCurrent: testvectors/ holds exactly what the generator
// writes, so the vectors and the code cannot drift apart.
func TestVectorsAreCurrent(t *testing.T) {
	files, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("..", "..", "..", "testvectors")
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v (run: go run ./internal/tools/genvectors -out testvectors)", name, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("testvectors/%s is stale (run: go run ./internal/tools/genvectors -out testvectors)", name)
		}
	}
}

// TestVectorsAreValid: the generated files read back and the cert verifies
// with its KES key at the end of its window.
func TestVectorsAreValid(t *testing.T) {
	files, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := opcert.Parse(files["node.cert"])
	if err != nil {
		t.Fatal(err)
	}
	k, err := keys.ParseKESKey(files["kes.skey"])
	if err != nil {
		t.Fatal(err)
	}
	cold, err := keys.ParseColdVKey(files["cold.vkey"])
	if err != nil {
		t.Fatal(err)
	}
	slot := opcert.Mainnet.PeriodStartSlot(cert.KESPeriod+62) - 1
	if _, err := opcert.Verify(opcert.Inputs{Cert: cert, Network: opcert.Mainnet, Slot: slot, Cold: &cold, KES: k}); err != nil {
		t.Fatal(err)
	}
	e, err := transfer.ParseEnrollment(files["enrollment.kre"])
	if err != nil {
		t.Fatalf("enrollment: %v", err)
	}
	snap, err := transfer.ParseSnapshot(files["snapshot.kss"], e.SignKey)
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	if _, err := snap.Check(transfer.SnapshotPolicy{Network: opcert.Mainnet, PoolID: cold.PoolID(), Now: snap.TipTime}); err != nil {
		t.Errorf("snapshot check: %v", err)
	}
	c, err := keys.ParseCounter(files["cold.counter"])
	if err != nil || c.Next != cert.Counter+1 {
		t.Errorf("counter: %+v, %v", c, err)
	}
}
