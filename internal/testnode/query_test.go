package testnode

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/blinklabs-io/gouroboros"
	"github.com/blinklabs-io/gouroboros/cbor"
	"github.com/blinklabs-io/gouroboros/ledger"
	"github.com/blinklabs-io/gouroboros/protocol/localstatequery"
)

func startWithSocket(t *testing.T) *Node {
	t.Helper()
	pool := mustPool(t, 1)
	cfg := mustWrite(t, pool, t.TempDir(), mustIssue(t, pool, 10, 3, 98))
	dir, err := os.MkdirTemp("", "tn")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	cfg.SocketPath = filepath.Join(dir, "node.socket")
	n, _ := start(t, cfg)
	return n
}

// The gouroboros v0.199.0 server sends nothing after a reacquire; the test
// node answers it itself, so a client that reacquires sees the new tip.
func TestReacquireSeesTheNewTip(t *testing.T) {
	n := startWithSocket(t)
	conn, err := ouroboros.NewConnection(ouroboros.WithNetworkMagic(network.Magic), ouroboros.WithNodeToNode(false), ouroboros.WithKeepAlive(false))
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Dial("unix", n.SocketPath()); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	c := conn.LocalStateQuery().Client
	for i, slot := range []uint64{tipSlot, tipSlot + 50} {
		n.SetTipSlot(slot)
		if err := c.AcquireVolatileTip(); err != nil {
			t.Fatalf("acquire %d: %v", i, err)
		}
		p, err := c.GetChainPoint()
		if err != nil {
			t.Fatalf("GetChainPoint %d: %v", i, err)
		}
		if p.Slot != slot {
			t.Errorf("acquire %d: got tip %d, want %d", i, p.Slot, slot)
		}
	}
}

func TestAnswerGetCBORChainDepState(t *testing.T) {
	n := startWithSocket(t)
	pool := mustPool(t, 1)
	n.SetOnChainCounter(pool.ID(), 7)
	got, err := n.answerShelley(n.snapshot(), &localstatequery.ShelleyCborQuery{Query: &localstatequery.ShelleyDebugChainDepStateQuery{}})
	if err != nil {
		t.Fatal(err)
	}
	tag, ok := got.(cbor.Tag)
	if !ok || tag.Number != 24 {
		t.Fatalf("got %T %v, want CBOR tag 24", got, got)
	}
	var st localstatequery.DebugChainDepStateResult
	if _, err := cbor.Decode(tag.Content.([]byte), &st); err != nil {
		t.Fatal(err)
	}
	if c, ok := st.OpCertCounter(ledger.Blake2b224(pool.ID())); !ok || c != 7 {
		t.Errorf("got counter %d (present %v), want 7", c, ok)
	}
	if !st.LastSlot.HasSlot || st.LastSlot.Slot != tipSlot {
		t.Errorf("got last slot %+v, want %d", st.LastSlot, tipSlot)
	}
	if _, err := n.answerShelley(n.snapshot(), &localstatequery.ShelleyStakePoolsQuery{}); err == nil {
		t.Errorf("got an answer to a query the test node does not serve, want an error")
	}
}
