package nodequery

import "errors"

// Errors callers branch on; test with errors.Is.
var (
	// ErrConnect: the node socket could not be reached or the handshake
	// failed (no node, wrong path, nothing listening).
	ErrConnect = errors.New("cannot connect to the node socket")
	// ErrVersion: the node speaks no node-to-client version this agent
	// does.
	ErrVersion = errors.New("no common node-to-client version")
	// ErrQuery: the node closed the connection or answered a query with
	// something unexpected.
	ErrQuery = errors.New("local state query failed")
	// ErrNetworkMismatch: the node is on another network than the one
	// configured (magic, system start or KES parameters differ). The
	// handshake's refusal is a *MagicMismatchError.
	ErrNetworkMismatch = errors.New("node is on another network")
	// ErrEraMismatch: the node's ledger is in another era than a query
	// asked for (see *EraMismatchError).
	ErrEraMismatch = errors.New("era mismatch")
	// ErrSyncing: the node is still syncing: its tip is far behind the
	// clock, or its ledger is not yet in an era with op-cert counters.
	ErrSyncing = errors.New("the node is still syncing")
	// ErrMetrics: the metrics endpoint could not be scraped or did not
	// serve Prometheus text.
	ErrMetrics = errors.New("cannot read node metrics")
)
