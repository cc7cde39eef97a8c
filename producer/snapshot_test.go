package producer

import (
	"context"
	"errors"
	"testing"

	"github.com/kesrotate/kesrotate/opcert"
)

// A snapshot says which counter the chain records; the cold side picks the
// next counter from it. A chain state whose counter nobody gave (the clock,
// a tip given without a counter) is refused, not signed as "never minted".
func TestSnapshotNeedsTheOnChainCounter(t *testing.T) {
	f := newFixture(t, true, nil)
	tip := f.tip
	clock, err := f.a.Chain(context.Background(), ChainOptions{Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	tipOnly, err := f.a.Chain(context.Background(), ChainOptions{Now: testNow, TipSlot: &tip})
	if err != nil {
		t.Fatal(err)
	}
	none, four := opcert.None(), opcert.Recorded(4)
	given, err := f.a.Chain(context.Background(), ChainOptions{Now: testNow, TipSlot: &tip, OnChain: &none})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cs   ChainState
		want error
	}{
		{"the clock", clock.ChainState, ErrOnChainUnknown},
		{"a tip without a counter", tipOnly.ChainState, ErrOnChainUnknown},
		{"a bare chain state", ChainState{TipSlot: tip, OnChain: opcert.None()}, ErrOnChainUnknown},
		{"never minted, given", given.ChainState, nil},
		{"counter 4, known", ChainState{TipSlot: tip, OnChain: four, OnChainKnown: true}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, data, err := f.a.Snapshot(tt.cs, testNow)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if tt.want != nil && (s != nil || data != nil) {
				t.Errorf("got a snapshot (%d bytes) with %v, want none", len(data), err)
			}
			if tt.want == nil && s.OnChain != tt.cs.OnChain {
				t.Errorf("got on-chain %s, want %s", s.OnChain, tt.cs.OnChain)
			}
		})
	}
}

// Each operation states what it needs of the chain; the commands only
// name the operation.
func TestPurposeNeeds(t *testing.T) {
	tests := []struct {
		p               Purpose
		synced, counter bool
	}{
		{ForSnapshot, true, true},
		{ForInstall, true, false},
		{ForPromote, true, false},
		{ForDemote, false, false},
		{ForRollback, false, false},
		{ForStatus, false, false},
		{ForCheck, false, false},
		{0, true, false}, // unnamed: the safe side
	}
	for _, tt := range tests {
		if got := tt.p.RequiresSynced(); got != tt.synced {
			t.Errorf("purpose %d: RequiresSynced %v, want %v", tt.p, got, tt.synced)
		}
		if got := tt.p.NeedsCounter(); got != tt.counter {
			t.Errorf("purpose %d: NeedsCounter %v, want %v", tt.p, got, tt.counter)
		}
	}
}
