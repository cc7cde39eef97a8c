package producer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kesrotate/kesrotate/transfer"
)

// Every step boundary of a first install (with adoption) and of a later
// one; StepAdoptPath happens once per node path.
var crashPoints = []struct {
	step Step
	nth  int
}{
	{StepChecked, 1}, {StepStageDir, 1}, {StepStageKES, 1}, {StepStageVRF, 1}, {StepStageCert, 1},
	{StepStageMeta, 1}, {StepStaged, 1}, {StepAdoptSet, 1}, {StepAdoptLink, 1},
	{StepAdoptPath, 1}, {StepAdoptPath, 2}, {StepAdoptPath, 3},
	{StepCurrentTmp, 1}, {StepSwapped, 1}, {StepLinked, 1},
}

// TestCrashHelper is the install process the crash test kills: it exits
// at once, without any cleanup, at the step named in its environment.
func TestCrashHelper(t *testing.T) {
	dir := os.Getenv("KESROTATE_CRASH_AGENT")
	if dir == "" {
		return // only as a child of TestInstallKilledAtEveryStep
	}
	step, nth := Step(os.Getenv("KESROTATE_CRASH_STEP")), 0
	want, _ := strconv.Atoi(os.Getenv("KESROTATE_CRASH_NTH"))
	tip, _ := strconv.ParseUint(os.Getenv("KESROTATE_CRASH_TIP"), 10, 64)
	a, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(os.Getenv("KESROTATE_CRASH_BUNDLE"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := a.OpenBundle(f)
	if err != nil {
		t.Fatal(err)
	}
	hold := os.Getenv("KESROTATE_CRASH_HOLD") // a file: say so and wait to be killed
	_, err = a.Activate(b, ActivateOptions{TipSlot: tip, Now: testNow, Hook: func(s Step) error {
		if s == step {
			if nth++; nth == want {
				if hold != "" {
					_ = os.WriteFile(hold, nil, 0o600)
					// Until SIGKILL. Not select{}: with no timer in the
					// process (the child runs without -test.timeout) the
					// runtime calls that a deadlock and exits, dropping
					// the lock this test needs held.
					for {
						time.Sleep(time.Hour)
					}
				}
				os.Exit(3) // killed: no deferred cleanup runs
			}
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	os.Exit(4) // the crash point was never reached
}

// watch reads the node paths over and over until stop is closed and
// records anything but a complete old or new set.
func watch(f *fixture, stop <-chan struct{}, bad *atomic.Value, reads *atomic.Int64) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		// Read first, then look at stop: on a loaded machine this
		// goroutine may first run after the child has already ended,
		// and it must still have read once.
		for {
			v, err := readNode(f.a, f.pool)
			switch {
			case err != nil:
				bad.Store(err.Error())
			case v.counter != oldCounter && v.counter != 5:
				bad.Store(fmt.Sprintf("node sees cert #%d", v.counter))
			}
			reads.Add(1)
			select {
			case <-stop:
				return
			default:
			}
		}
	}()
	return &wg
}

func TestInstallKilledAtEveryStep(t *testing.T) {
	for _, cp := range crashPoints {
		t.Run(fmt.Sprintf("%s-%d", cp.step, cp.nth), func(t *testing.T) {
			f := newFixture(t, true, nil)
			e, _, err := f.a.Enrollment()
			if err != nil {
				t.Fatal(err)
			}
			rcpt, err := transfer.ParseRecipient(e.Recipient)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := f.bundle(10, 5, 200, false).Encrypt(&buf, rcpt); err != nil {
				t.Fatal(err)
			}
			bundlePath := filepath.Join(t.TempDir(), "b.age")
			if err := os.WriteFile(bundlePath, buf.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}

			stop := make(chan struct{})
			var bad atomic.Value
			var reads atomic.Int64
			wg := watch(f, stop, &bad, &reads)
			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
			cmd.Env = append(os.Environ(), "KESROTATE_CRASH_AGENT="+f.a.Dir, "KESROTATE_CRASH_BUNDLE="+bundlePath,
				"KESROTATE_CRASH_STEP="+string(cp.step), "KESROTATE_CRASH_NTH="+strconv.Itoa(cp.nth),
				fmt.Sprintf("KESROTATE_CRASH_TIP=%d", f.tip))
			out, err := cmd.CombinedOutput()
			close(stop)
			wg.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 3 {
				t.Fatalf("got %v, want the installer killed at %s #%d (exit 3); output:\n%s", err, cp.step, cp.nth, out)
			}
			if b := bad.Load(); b != nil {
				t.Fatalf("during the install a reader saw: %s", b)
			}
			after, err := readNode(f.a, f.pool)
			if err != nil {
				t.Fatalf("after the kill the node paths show: %v", err)
			}
			if reads.Load() == 0 {
				t.Fatal("the reader never read")
			}
			// The next install recovers (the lock died with the process).
			b := f.bundle(10, 5, 200, false)
			if _, err := f.a.Activate(b, f.opts()); err != nil {
				t.Fatalf("install after a kill at %s: %v", cp.step, err)
			}
			if v, err := readNode(f.a, f.pool); err != nil || v.counter != 5 {
				t.Fatalf("after recovery the node sees %+v, %v, want #5", v, err)
			}
			// And rollback returns to the node's original set.
			if _, err := f.a.Rollback(context.Background(), RollbackOptions{}); err != nil {
				t.Fatalf("rollback after recovery (killed with #%d visible): %v", after.counter, err)
			}
			if v, err := readNode(f.a, f.pool); err != nil || v.counter != oldCounter {
				t.Fatalf("after rollback the node sees %+v, %v, want #%d", v, err, oldCounter)
			}
		})
	}
}

// An install aborted by an error at any step cleans up what it can and
// leaves the node on a complete set; the next install succeeds.
func TestInstallAbortedAtEveryStep(t *testing.T) {
	for _, cp := range crashPoints {
		t.Run(fmt.Sprintf("%s-%d", cp.step, cp.nth), func(t *testing.T) {
			f := newFixture(t, true, nil)
			boom := errors.New("injected failure")
			n := 0
			o := f.opts()
			o.Hook = func(s Step) error {
				if s == cp.step {
					if n++; n == cp.nth {
						return boom
					}
				}
				return nil
			}
			if _, err := f.a.Activate(f.bundle(10, 5, 200, false), o); !errors.Is(err, boom) {
				t.Fatalf("got %v, want the injected failure", err)
			}
			if _, err := readNode(f.a, f.pool); err != nil {
				t.Fatalf("after the abort the node paths show: %v", err)
			}
			if _, err := f.a.Activate(f.bundle(10, 5, 200, false), f.opts()); err != nil {
				t.Fatalf("next install: %v", err)
			}
			if v, err := readNode(f.a, f.pool); err != nil || v.counter != 5 {
				t.Fatalf("node sees %+v, %v, want #5", v, err)
			}
		})
	}
}

// Two installs at once, across processes: while one is half way (it holds
// the agent lock), the other is refused and changes nothing; once the
// first is killed there, the second goes through, and the node never sees
// a mixed set.
func TestTwoInstallsOneKilledHalfWay(t *testing.T) {
	f := newFixture(t, true, nil)
	e, _, err := f.a.Enrollment()
	if err != nil {
		t.Fatal(err)
	}
	rcpt, err := transfer.ParseRecipient(e.Recipient)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := f.bundle(10, 5, 200, false).Encrypt(&buf, rcpt); err != nil {
		t.Fatal(err)
	}
	bundlePath := filepath.Join(t.TempDir(), "b.age")
	if err := os.WriteFile(bundlePath, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	held := filepath.Join(t.TempDir(), "held")
	stop := make(chan struct{})
	var bad atomic.Value
	var reads atomic.Int64
	wg := watch(f, stop, &bad, &reads)
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), "KESROTATE_CRASH_AGENT="+f.a.Dir, "KESROTATE_CRASH_BUNDLE="+bundlePath,
		"KESROTATE_CRASH_STEP="+string(StepStageCert), "KESROTATE_CRASH_NTH=1", "KESROTATE_CRASH_HOLD="+held,
		fmt.Sprintf("KESROTATE_CRASH_TIP=%d", f.tip))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFile(t, held)
	if _, err := f.a.Activate(f.bundle(10, 5, 200, false), f.opts()); !errors.Is(err, ErrLocked) {
		t.Errorf("second install while the first holds the lock: got %v, want ErrLocked", err)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if _, err := f.a.Activate(f.bundle(10, 5, 200, false), f.opts()); err != nil {
		t.Fatalf("install after the kill: %v", err)
	}
	close(stop)
	wg.Wait()
	if b := bad.Load(); b != nil {
		t.Fatalf("a reader saw: %s", b)
	}
	if v, err := readNode(f.a, f.pool); err != nil || v.counter != 5 {
		t.Fatalf("node sees %+v, %v, want #5", v, err)
	}
}
