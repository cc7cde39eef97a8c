package nodequery

import "errors"

// Errors callers branch on; test with errors.Is.
var (
	// ErrConnect: the node socket could not be reached or the handshake
	// failed (no node, wrong path, wrong network magic).
	ErrConnect = errors.New("cannot connect to the node socket")
	// ErrQuery: the node closed the connection or answered a query with
	// something unexpected.
	ErrQuery = errors.New("local state query failed")
	// ErrNetworkMismatch: the node is on another network than the one
	// configured (magic, system start or KES parameters differ).
	ErrNetworkMismatch = errors.New("node is on another network")
	// ErrMetrics: the metrics endpoint could not be scraped or did not
	// serve Prometheus text.
	ErrMetrics = errors.New("cannot read node metrics")
)
