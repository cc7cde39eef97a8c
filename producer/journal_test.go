package producer

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kesrotate/kesrotate/internal/testnode"
	"github.com/kesrotate/kesrotate/producer/nodelog"
)

// A node under systemd logs to stdout, which journald stores. The stand-in
// journalctl below serves the test node's stdout as journalctl(1) does
// with --output json: one object per entry, __CURSOR, __REALTIME_TIMESTAMP
// in microseconds, MESSAGE as a string or — when it holds non-printable
// bytes such as the node's ANSI colours — an array of byte values. It
// honours --unit, --since @SECONDS and --after-cursor.

var humanStamp = regexp.MustCompile(`^(?:\x1b\[[0-9;]*m)?\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)Z\]`)

// TestJournalctlHelper is journalctl when run by the script journalctl()
// writes; it does nothing as a plain test.
func TestJournalctlHelper(t *testing.T) {
	src := os.Getenv("KESROTATE_FAKE_JOURNAL")
	if src == "" {
		return
	}
	args := flagArgs()
	var unit, after string
	var since int64 = -1
	lines := -1
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "--unit":
			i++
			unit = args[i]
		case "--since":
			i++
			since, _ = strconv.ParseInt(strings.TrimPrefix(args[i], "@"), 10, 64)
		case "--after-cursor":
			i++
			after = args[i]
		case "--lines":
			i++
			lines, _ = strconv.Atoi(args[i])
		}
	}
	if unit != "cardano-node" {
		fmt.Fprintf(os.Stderr, "No journal files were found for unit %s.\n", unit)
		os.Exit(1)
	}
	f, err := os.Open(src)
	if err != nil {
		return // no entries yet
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var at time.Time
	seen := after == ""
	var out []string
	defer func() {
		if lines >= 0 && len(out) > lines {
			out = out[len(out)-lines:]
		}
		for _, l := range out {
			fmt.Println(l)
		}
	}()
	for i := 0; sc.Scan(); i++ {
		line := sc.Text()
		if m := humanStamp.FindStringSubmatch(line); m != nil {
			at, _ = time.Parse("2006-01-02 15:04:05.999999999", m[1])
		}
		cursor := fmt.Sprintf("s=fake;i=%d", i)
		if seen && (since < 0 || at.Unix() >= since) {
			var msg any = line
			if strings.ContainsRune(line, 0x1b) {
				var nums []int
				for _, b := range []byte(line) {
					nums = append(nums, int(b))
				}
				msg = nums
			}
			b, _ := json.Marshal(map[string]any{"__CURSOR": cursor, "__REALTIME_TIMESTAMP": strconv.FormatInt(at.UnixMicro(), 10),
				"_SYSTEMD_UNIT": "cardano-node.service", "MESSAGE": msg})
			out = append(out, string(b))
		}
		if cursor == after {
			seen = true
		}
	}
}

// flagArgs are the arguments after "--" on the command line.
func flagArgs() []string {
	for i, a := range os.Args {
		if a == "--" {
			return os.Args[i+1:]
		}
	}
	return nil
}

// journalctl installs the stand-in for the node whose stdout is in
// logPath.
func journalctl(t *testing.T, logPath string) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "journalctl")
	script := fmt.Sprintf("#!/bin/sh\nKESROTATE_FAKE_JOURNAL=%q exec %q -test.run='^TestJournalctlHelper$' -test.count=1 -- \"$@\"\n", logPath, os.Args[0])
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	old := nodelog.Journalctl
	nodelog.Journalctl = bin
	t.Cleanup(func() { nodelog.Journalctl = old })
}

// TestDeployFromTheJournal confirms from the journal of a node under
// systemd (human coloured lines on stdout), for each version: a new cert,
// a re-issue in the same period (log only), and a refused reload.
func TestDeployFromTheJournal(t *testing.T) {
	for _, version := range testnode.Versions {
		t.Run(version, func(t *testing.T) {
			f := newFixture(t, true, func(c *Config) {
				c.Signal = Signal{Mode: "none"}
				c.NodeLog = "journald:cardano-node"
			})
			n, logPath := f.startNodeWith(testnode.Config{NodeVersion: version, Tracing: "new", LogFormat: "human"})
			journalctl(t, logPath)
			opts := InstallOptions{ActivateOptions: f.opts(), Signal: reloadOf(n), ConfirmTimeout: 20 * time.Second, Poll: 20 * time.Millisecond}
			for _, b := range []struct{ seed, counter byte }{{10, 5}, {11, 6}} {
				res, err := f.a.Install(context.Background(), f.bundle(b.seed, uint64(b.counter), 200, false), opts)
				if err != nil || !res.Confirmation.Confirmed || fmt.Sprint(res.Confirmation.Sources) != "[log]" {
					t.Fatalf("cert #%d: got %+v, %v, want confirmed by the log", b.counter, res.Confirmation, err)
				}
			}
		})
	}
	t.Run("a refused reload, with the node's reason", func(t *testing.T) {
		f := newFixture(t, true, func(c *Config) { c.NodeLog = "journald:cardano-node" })
		n, logPath := f.startNodeWith(testnode.Config{RejectReload: true})
		journalctl(t, logPath)
		_, err := f.a.Install(context.Background(), f.bundle(10, 5, 200, false),
			InstallOptions{ActivateOptions: f.opts(), Signal: reloadOf(n), ConfirmTimeout: 20 * time.Second, Poll: 20 * time.Millisecond})
		if !errors.Is(err, ErrNotConfirmed) || !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("got %v, want the node's refusal from the journal", err)
		}
	})
}
