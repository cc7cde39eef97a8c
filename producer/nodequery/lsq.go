package nodequery

import (
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// The local state query mini-protocol (ouroboros-network protocols
// lib/Ouroboros/Network/Protocol/LocalStateQuery/Codec.hs): [8] acquires
// the volatile tip, [1] acquired, [2, failure] failed, [3, query] asks,
// [4, result] answers, [5] releases, [7] ends.
const (
	lsqAcquired        = 1
	lsqFailure         = 2
	lsqResult          = 4
	lsqAcquireVolatile = 8
	lsqQuery           = 3
	lsqRelease         = 5
	lsqDone            = 7
)

// Queries, as ouroboros-consensus encodes them for the Cardano hard-fork
// block (Ouroboros/Consensus/Ledger/Query.hs queryEncodeNodeToClient;
// HardFork/Combinator/Serialisation/SerialiseNodeToClient.hs; Shelley
// Ledger/Query.hs encodeShelleyQuery; golden
// head-vNN-Query_Conway_GetGenesisConfig = [0, [6, [11]]]):
//
//	GetSystemStart      [1]
//	GetChainPoint       [3]
//	BlockQuery q        [0, q]
//	  QueryIfCurrent    [0, [era, shelleyQuery]]
//	  QueryHardFork     [2, [1]]  GetCurrentEra
//	shelleyQuery        GetGenesisConfig [11], DebugChainDepState [13]
var (
	queryGetSystemStart = []any{1}
	queryGetChainPoint  = []any{3}
	queryGetCurrentEra  = []any{0, []any{2, []any{1}}}
)

const (
	shelleyGetGenesisConfig   = 11
	shelleyDebugChainDepState = 13
)

func queryIfCurrent(era int, shelleyQuery int) []any {
	return []any{0, []any{0, []any{era, []any{shelleyQuery}}}}
}

// lsq runs local state queries on an open connection.
type lsq struct{ m *mux }

func (q lsq) exchange(msg []any) ([]cbor.RawMessage, uint64, error) {
	b, err := encMode.Marshal(msg)
	if err != nil {
		return nil, 0, err
	}
	if err := q.m.send(protocolLocalStateQuery, b); err != nil {
		return nil, 0, err
	}
	reply, err := q.m.recv(protocolLocalStateQuery)
	if err != nil {
		return nil, 0, err
	}
	var fields []cbor.RawMessage
	var tag uint64
	if decMode.Unmarshal(reply, &fields) != nil || len(fields) == 0 || decMode.Unmarshal(fields[0], &tag) != nil {
		return nil, 0, errors.New("the node's reply is not a local state query message")
	}
	return fields, tag, nil
}

// acquire takes the volatile tip, so that every query reads one state.
func (q lsq) acquire() error {
	fields, tag, err := q.exchange([]any{lsqAcquireVolatile})
	if err != nil {
		return err
	}
	switch {
	case tag == lsqAcquired && len(fields) == 1:
		return nil
	case tag == lsqFailure && len(fields) == 2:
		var f uint64
		_ = decMode.Unmarshal(fields[1], &f)
		return fmt.Errorf("the node could not acquire its tip (failure %d)", f)
	}
	return fmt.Errorf("unexpected reply %d to acquire", tag)
}

// query asks one query and returns the raw result.
func (q lsq) query(query []any) (cbor.RawMessage, error) {
	fields, tag, err := q.exchange([]any{lsqQuery, query})
	if err != nil {
		return nil, err
	}
	if tag != lsqResult || len(fields) != 2 {
		return nil, fmt.Errorf("unexpected reply %d to a query", tag)
	}
	return fields[1], nil
}

// done releases the state and ends the protocol; the node sends nothing
// back to either.
func (q lsq) done() {
	for _, msg := range [][]any{{lsqRelease}, {lsqDone}} {
		b, _ := encMode.Marshal(msg)
		if q.m.send(protocolLocalStateQuery, b) != nil {
			return
		}
	}
}
