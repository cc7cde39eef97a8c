package producer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of the start times in /proc/PID/stat: clock ticks of
// USER_HZ, which Linux fixes at 100 for user space (proc(5)).
const userHZ = 100

// pidFileSlack is how much later than its pid file a process may seem to
// have started: /proc's boot time is whole seconds.
const pidFileSlack = 2 * time.Second

// checkPIDFile refuses a pid file that outlived its process: a process
// that started after the file was last written is not the one the file
// names, but a later process that was given the same pid (pids wrap
// around). Signalling it would send SIGHUP — whose default action ends a
// process — to whatever now holds the number.
func checkPIDFile(procRoot, pidFile string, pid int) error {
	fi, err := os.Stat(pidFile)
	if err != nil {
		return fmt.Errorf("%w: pid file: %w", ErrNodeNotFound, err)
	}
	started, err := processStart(procRoot, pid)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w: pid file %s names pid %d, which is not running", ErrNodeNotFound, pidFile, pid)
	}
	if err != nil {
		return fmt.Errorf("%w: pid %d: %w", ErrNodeNotFound, pid, err)
	}
	if started.After(fi.ModTime().Add(pidFileSlack)) {
		return fmt.Errorf("%w: pid file %s is stale: it was written at %s, and pid %d started later (%s), so it is another process",
			ErrNodeNotFound, pidFile, fi.ModTime().UTC().Format(time.RFC3339), pid, started.UTC().Format(time.RFC3339))
	}
	return nil
}

// processStart is when process pid started: its start time in
// /proc/PID/stat (field 22, clock ticks after boot) after the boot time in
// /proc/stat (btime).
func processStart(procRoot string, pid int) (time.Time, error) {
	stat, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "stat"))
	if err != nil {
		return time.Time{}, err
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 {
		return time.Time{}, errors.New("unreadable /proc stat")
	}
	fields := strings.Fields(string(stat[i+1:]))
	// fields[0] is field 3 (state); the start time is field 22.
	if len(fields) < 20 {
		return time.Time{}, errors.New("unreadable /proc stat")
	}
	ticks, err := strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		return time.Time{}, errors.New("unreadable /proc start time")
	}
	boot, err := bootTime(procRoot)
	if err != nil {
		return time.Time{}, err
	}
	return boot.Add(time.Duration(ticks) * time.Second / userHZ), nil
}

func bootTime(procRoot string) (time.Time, error) {
	b, err := os.ReadFile(filepath.Join(procRoot, "stat"))
	if err != nil {
		return time.Time{}, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			s, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				break
			}
			return time.Unix(s, 0), nil
		}
	}
	return time.Time{}, errors.New("no boot time in /proc/stat")
}
