package producer

import "errors"

// Errors that callers branch on; test with errors.Is.
var (
	// ErrNoAgent: the folder is not a kesrotate-agent folder.
	ErrNoAgent = errors.New("not a kesrotate-agent folder")
	// ErrAgentExists: init on a folder that already holds an agent.
	ErrAgentExists = errors.New("an agent is already set up here")
	// ErrConfig: an init option is missing or inconsistent.
	ErrConfig = errors.New("bad agent configuration")
	// ErrOnChainUnknown: a snapshot of a chain state whose on-chain
	// counter is not known.
	ErrOnChainUnknown = errors.New("the pool's on-chain counter is unknown")
)
