package plan

import (
	"errors"
	"fmt"

	"github.com/kesrotate/kesrotate/keys"
)

// Errors of plan's inputs; test with errors.Is. A leader schedule of a
// pool not being planned is a *ScheduleError.
var (
	// ErrAgentStatus: a kesrotate-agent status file is unreadable or lacks
	// a field plan needs.
	ErrAgentStatus = errors.New("bad kesrotate-agent status")
	// ErrLeaderLog: a cncli leaderlog file is unreadable or inconsistent.
	ErrLeaderLog = errors.New("bad cncli leaderlog")
	// ErrNetworkConflict: the network named is not the vault's.
	ErrNetworkConflict = errors.New("the network named is not the vault's")
	// ErrLeads: the critical lead is longer than the warning lead
	// (Leads.Check).
	ErrLeads = errors.New("the critical lead is longer than the warning lead")
	// ErrNothing: there is no cert to plan (Make): a vault that issued
	// none, and nothing else given.
	ErrNothing = errors.New("no cert to plan")
	// ErrScheduleForeign: a leader schedule of a pool that is not being
	// planned (a *ScheduleError).
	ErrScheduleForeign = errors.New("leader schedule of a pool not being planned")
)

// ScheduleError names the schedule (its index in Input.Schedules) of a
// pool that is not being planned; it is an ErrScheduleForeign.
type ScheduleError struct {
	Index int
	Pool  keys.PoolID
}

func (e *ScheduleError) Error() string {
	return fmt.Sprintf("the leader schedule is for pool %s, which is not being planned", e.Pool.Bech32())
}

func (e *ScheduleError) Is(target error) bool { return target == ErrScheduleForeign }
