package producer

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kesrotate/kesrotate/internal/mithrildouble"
	"github.com/kesrotate/kesrotate/internal/systemddouble"
	"github.com/kesrotate/kesrotate/producer/nodelog"
)

// The Mithril signer and systemctl are internal/mithrildouble and
// internal/systemddouble, written from IntersectMBO/mithril
// (mithril-signer/src/main.rs, metrics/service.rs, runtime/state_machine.rs,
// runtime/error.rs, runtime/runner.rs) and systemd/systemd
// (src/systemctl/systemctl-start-unit.c, systemctl-show.c); see their
// package docs.

// TestSystemctlHelper is systemctl when run by the script systemd writes;
// it does nothing as a plain test.
func TestSystemctlHelper(t *testing.T) {
	if os.Getenv("SYSTEMD_DOUBLE_DIR") == "" || os.Getenv("KESROTATE_FAKE_SYSTEMCTL") == "" {
		return
	}
	os.Exit(systemddouble.Main(flagArgs(), os.Getenv, os.Stdout, os.Stderr))
}

// TestMithrilSignerHelper is mithril-signer when a unit runs the script
// systemd writes; it does nothing as a plain test.
func TestMithrilSignerHelper(t *testing.T) {
	if os.Getenv("KESROTATE_FAKE_SIGNER") == "" {
		return
	}
	os.Exit(mithrildouble.Main(flagArgs(), os.Getenv, os.Stdout, os.Stderr))
}

// TestSignerJournalctlHelper is journalctl over the units' journal files
// the systemctl double writes: one entry per line, the line number as its
// cursor; --unit, --lines 1 and --after-cursor.
func TestSignerJournalctlHelper(t *testing.T) {
	dir := os.Getenv("KESROTATE_FAKE_SIGNER_JOURNAL")
	if dir == "" {
		return
	}
	args := flagArgs()
	var unit string
	after, last := -1, false
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "--unit":
			i++
			unit = args[i]
		case "--after-cursor":
			i++
			after, _ = strconv.Atoi(args[i])
		case "--lines":
			i++
			last = true
		}
	}
	f, err := os.Open(filepath.Join(dir, unit))
	if err != nil {
		f, err = os.Open(filepath.Join(dir, unit+".service.journal"))
	}
	var lines []string
	if err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		f.Close()
	}
	start := after + 1
	if last {
		start = max(len(lines)-1, 0)
	}
	for i := start; i < len(lines); i++ {
		b, _ := json.Marshal(map[string]string{"__CURSOR": strconv.Itoa(i), "__REALTIME_TIMESTAMP": strconv.FormatInt(time.Now().UnixMicro(), 10), "MESSAGE": lines[i]})
		fmt.Println(string(b))
	}
	os.Exit(0)
}

// signerWorld is a systemd with a mithril-signer unit whose environment
// file is env (the test adds lines to it).
type signerWorld struct {
	t     *testing.T
	units string
	env   string
	port  int
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// newSignerWorld installs the systemctl and journalctl stand-ins and a
// unit running the signer double with the extra environment lines.
func newSignerWorld(t *testing.T, f *fixture, verbose string, extra ...string) *signerWorld {
	t.Helper()
	w := &signerWorld{t: t, units: t.TempDir(), port: freePort(t)}
	bin := t.TempDir()
	write := func(name, text string, mode os.FileMode) string {
		p := filepath.Join(bin, name)
		if err := os.WriteFile(p, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	sc := write("systemctl", fmt.Sprintf("#!/bin/sh\nSYSTEMD_DOUBLE_DIR=%q KESROTATE_FAKE_SYSTEMCTL=1 exec %q -test.run='^TestSystemctlHelper$' -test.count=1 -- \"$@\"\n", w.units, os.Args[0]), 0o755)
	signer := write("mithril-signer", fmt.Sprintf("#!/bin/sh\nKESROTATE_FAKE_SIGNER=1 exec %q -test.run='^TestMithrilSignerHelper$' -test.count=1 -- \"$@\"\n", os.Args[0]), 0o755)
	jc := write("journalctl", fmt.Sprintf("#!/bin/sh\nKESROTATE_FAKE_SIGNER_JOURNAL=%q exec %q -test.run='^TestSignerJournalctlHelper$' -test.count=1 -- \"$@\"\n", w.units, os.Args[0]), 0o755)
	oldS, oldJ := Systemctl, nodelog.Journalctl
	Systemctl, nodelog.Journalctl = sc, jc
	running := filepath.Join(w.units, "running")
	if err := os.WriteFile(running, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = systemctl(context.Background(), "stop", "mithril-signer")
		os.Remove(running)
		Systemctl, nodelog.Journalctl = oldS, oldJ
	})
	w.env = filepath.Join(w.units, "mithril-signer.env")
	lines := []string{
		"# the signer's settings",
		"KES_SECRET_KEY_PATH=/opt/old/kes.skey",
		"NETWORK=preview", "RUN_INTERVAL=20", "ENABLE_METRICS_SERVER=true", "METRICS_SERVER_IP=127.0.0.1",
		"METRICS_SERVER_PORT=" + strconv.Itoa(w.port),
		"KESROTATE_SIGNER_NOW=" + f.net.SlotTime(f.tip).Format(time.RFC3339),
		"KESROTATE_SIGNER_WATCH=" + running,
	}
	if err := os.WriteFile(w.env, []byte(strings.Join(append(lines, extra...), "\n")+"\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	unit := fmt.Sprintf("[Unit]\nDescription=Mithril signer\n\n[Service]\nExecStart=%s %s\nEnvironmentFile=%s\n", signer, verbose, w.env)
	if err := os.WriteFile(filepath.Join(w.units, "mithril-signer.service"), []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	f.a.Config.MithrilSigner, f.a.Config.MithrilEnvFile = "mithril-signer", w.env
	return w
}

func (w *signerWorld) metricsURL() string { return fmt.Sprintf("http://127.0.0.1:%d/metrics", w.port) }

// A rotation ends with the signer on the new files, restarted and
// registered; the environment file's lines are set to the node's paths.
func TestDeployRestartsSigner(t *testing.T) {
	f := newFixture(t, true, nil)
	w := newSignerWorld(t, f, "-vv")
	f.a.Config.MithrilMetrics = w.metricsURL()
	if err := systemctl(context.Background(), "start", "mithril-signer"); err != nil {
		t.Fatal(err)
	}
	n, _ := f.startNode(false)
	f.a.Config.MetricsURL = n.MetricsURL()
	res, err := f.a.Install(context.Background(), f.bundle(10, 5, 200, false), InstallOptions{ActivateOptions: f.opts(), Signal: reloadOf(n),
		Signer: SignerOptions{Timeout: 30 * time.Second, Poll: 20 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Signer
	if s == nil || !s.Registered || !s.Restarted || s.Source != "metrics" || s.PIDAfter == 0 || s.PIDAfter == s.PIDBefore || s.Epoch == nil {
		t.Fatalf("signer: %+v", s)
	}
	if len(s.EnvChanged) != 2 || s.EnvChanged[0].Setting != EnvKESKey || s.EnvChanged[0].From != "/opt/old/kes.skey" {
		t.Errorf("env changes: %+v", s.EnvChanged)
	}
	env, _ := os.ReadFile(w.env)
	if !strings.Contains(string(env), "# the signer's settings\nKES_SECRET_KEY_PATH="+f.a.Config.KESKey+"\nNETWORK=preview\n") ||
		!strings.HasSuffix(string(env), "OPERATIONAL_CERTIFICATE_PATH="+f.a.Config.Cert+"\n") {
		t.Errorf("env file:\n%s", env)
	}
	if fi, _ := os.Stat(w.env); fi.Mode().Perm() != 0o640 {
		t.Errorf("env file mode %o, want its 0640 kept", fi.Mode().Perm())
	}
	st := f.status(t)
	if st.Mithril == nil || !st.Mithril.RestartedForActiveSet || st.Mithril.Registered == nil || !*st.Mithril.Registered || st.Verdict() != nil {
		t.Errorf("status: %+v, %v", st.Mithril, st.Verdict())
	}
	if !strings.Contains(string(st.Prometheus()), "kesrotate_agent_mithril_signer_registered{") {
		t.Error("no signer gauge in the Prometheus output")
	}

	// An install the node was not told about leaves the signer alone, and
	// status says it was not restarted for the active set.
	res, err = f.a.Install(context.Background(), f.bundle(11, 6, 200, false), InstallOptions{ActivateOptions: f.opts(), NoSignal: true})
	if err != nil || res.Signer != nil || !strings.Contains(res.SignerNote, "mithril restart") {
		t.Fatalf("--no-signal: %v %+v", err, res)
	}
	if err := f.status(t).Verdict(); !errors.Is(err, ErrSignerStale) {
		t.Errorf("status after an install without the signer: %v, want ErrSignerStale", err)
	}
}

func (f *fixture) status(t *testing.T) *Status {
	t.Helper()
	st, err := f.a.Status(ChainState{TipSlot: f.tip}, SourceGiven, nil, nil, testNow)
	if err != nil {
		t.Fatal(err)
	}
	f.a.KeyUsers(context.Background(), st)
	return st
}

// A signer that does not register is reported with what it showed; the
// node's install stays.
func TestSignerFailures(t *testing.T) {
	opts := SignerOptions{Now: testNow, Timeout: 2 * time.Second, Poll: 20 * time.Millisecond}
	t.Run("aggregator down", func(t *testing.T) {
		f := newFixture(t, true, nil)
		w := newSignerWorld(t, f, "", "KESROTATE_SIGNER_AGGREGATOR=down")
		f.a.Config.MithrilMetrics = w.metricsURL()
		res, err := f.a.Install(context.Background(), f.bundle(10, 5, 200, false), InstallOptions{ActivateOptions: f.opts(), NoSignal: true})
		if err != nil {
			t.Fatal(err)
		}
		set := res.Activated.Set
		// The whole wait passes without a registration; what the signer
		// showed last depends on how fast the double came up on a loaded
		// machine (its metrics, or that they did not answer yet), so the
		// wait is long enough for it to answer and the detail is only
		// required to say what was seen.
		slow := opts
		slow.Timeout = 6 * time.Second
		sr, err := f.a.RestartSigner(context.Background(), slow)
		if !errors.Is(err, ErrSignerNotRegistered) || sr.Registered || !strings.Contains(sr.Detail, "last seen: its metrics") {
			t.Fatalf("got %v, %+v", err, sr)
		}
		if cur, _ := f.a.CurrentSet(); cur != set {
			t.Errorf("the node's set changed: %s, want %s", cur, set)
		}
		rec, _ := f.a.SignerRecordOf()
		if rec == nil || rec.Registered || rec.Set != set {
			t.Errorf("record: %+v", rec)
		}
		if err := f.status(t).Verdict(); !errors.Is(err, ErrSignerNotRegistered) {
			t.Errorf("status: %v, want ErrSignerNotRegistered", err)
		}
	})
	t.Run("signer exits", func(t *testing.T) {
		f := newFixture(t, true, nil)
		// Its clock 70 KES periods on: the key cannot evolve that far,
		// a Critical error, and the process ends.
		w := newSignerWorld(t, f, "", "KESROTATE_SIGNER_NOW="+f.net.SlotTime(f.tip+70*f.net.SlotsPerKESPeriod).Format(time.RFC3339))
		f.a.Config.MithrilMetrics = w.metricsURL()
		if _, err := f.a.Install(context.Background(), f.bundle(10, 5, 200, false), InstallOptions{ActivateOptions: f.opts(), NoSignal: true}); err != nil {
			t.Fatal(err)
		}
		opts := opts
		opts.Timeout = 20 * time.Second
		sr, err := f.a.RestartSigner(context.Background(), opts)
		if !errors.Is(err, ErrSignerNotRegistered) || !strings.Contains(sr.Detail, "is failed after the restart: it exited") {
			t.Errorf("got %v, %+v", err, sr)
		}
		if err := f.status(t).Verdict(); !errors.Is(err, ErrSignerDown) {
			t.Errorf("status: %v, want ErrSignerDown", err)
		}
	})
	t.Run("not allowed to restart", func(t *testing.T) {
		f := newFixture(t, true, nil)
		w := newSignerWorld(t, f, "")
		// The signer runs: it has a pid before, but it is not restarted.
		if err := systemctl(context.Background(), "start", "mithril-signer"); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(w.units, "polkit-deny"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := f.a.RestartSigner(context.Background(), opts)
		if !errors.Is(err, ErrSignerRestart) || !strings.Contains(err.Error(), "Interactive authentication required.") {
			t.Errorf("got %v", err)
		}
		if res == nil || res.Restarted || res.PIDBefore == 0 {
			t.Errorf("got %+v, want a pid before and Restarted false", res)
		}
	})
	// A restart that never happened is not recorded as one: status must
	// keep saying the signer was not restarted for the active set.
	t.Run("a refused restart is not recorded", func(t *testing.T) {
		f := newFixture(t, true, nil)
		w := newSignerWorld(t, f, "")
		if _, err := f.a.Install(context.Background(), f.bundle(10, 5, 200, false), InstallOptions{ActivateOptions: f.opts(), NoSignal: true}); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(w.units, "polkit-deny"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := f.a.RestartSigner(context.Background(), opts); !errors.Is(err, ErrSignerRestart) {
			t.Fatalf("got %v, want ErrSignerRestart", err)
		}
		if rec, _ := f.a.SignerRecordOf(); rec != nil {
			t.Errorf("got record %+v of a restart that did not happen", rec)
		}
		if ms := f.status(t).Mithril; ms == nil || ms.RestartedForActiveSet {
			t.Errorf("status: got %+v, want the signer not restarted for the active set", ms)
		}
	})
	// The result says when only the signer failed: the install stands
	// whatever the signer's error is.
	t.Run("an install the node took, the signer not restarted", func(t *testing.T) {
		f := newFixture(t, true, nil)
		newSignerWorld(t, f, "")
		f.a.Config.MithrilSigner = "mithril-signr"
		n, logPath := f.startNode(false)
		f.a.Config.NodeLog = logPath
		res, err := f.a.Install(context.Background(), f.bundle(10, 5, 200, false), InstallOptions{ActivateOptions: f.opts(), Signal: reloadOf(n),
			ConfirmTimeout: 20 * time.Second, Poll: 10 * time.Millisecond, Signer: opts})
		if !errors.Is(err, ErrSignerRestart) || res == nil || res.SignerErr != err || res.State() != StateConfirmed {
			t.Fatalf("got %+v, %v, want the node confirmed and only SignerErr", res, err)
		}
	})
	// Asked to restart a signer there is none of, the library says so;
	// after an install there is simply nothing to restart.
	t.Run("no signer configured", func(t *testing.T) {
		f := newFixture(t, true, nil)
		if res, err := f.a.RestartSigner(context.Background(), opts); !errors.Is(err, ErrNoSigner) || res != nil {
			t.Errorf("got %+v, %v, want ErrNoSigner", res, err)
		}
		res, err := f.a.Install(context.Background(), f.bundle(10, 5, 200, false), InstallOptions{ActivateOptions: f.opts(),
			Signal: func() (string, error) { return "x", nil }})
		if err != nil || res.Signer != nil || res.SignerErr != nil {
			t.Errorf("install without a signer: got %+v, %v", res, err)
		}
	})
	t.Run("no such unit", func(t *testing.T) {
		f := newFixture(t, true, nil)
		newSignerWorld(t, f, "")
		f.a.Config.MithrilSigner = "mithril-signr"
		_, err := f.a.RestartSigner(context.Background(), opts)
		if !errors.Is(err, ErrSignerRestart) || !strings.Contains(err.Error(), "Unit mithril-signr.service not found.") {
			t.Errorf("got %v", err)
		}
		if r := f.a.Inspect(context.Background(), InspectOptions{Now: testNow}); !hasFinding(r, LevelFail, "mithril", "systemd has no unit") {
			t.Errorf("check: %+v", r.Findings)
		}
	})
}

func hasFinding(r *Report, level, topic, text string) bool {
	for _, f := range r.Findings {
		if f.Level == level && f.Topic == topic && strings.Contains(f.Text, text) {
			return true
		}
	}
	return false
}

// Without a metrics URL the registration is read from the unit's journal
// (the signer at -vv logs the Info transition); a signer at its default
// level logs no Info line, and that is what the wait reports.
func TestSignerFromJournal(t *testing.T) {
	opts := SignerOptions{Now: testNow, Timeout: 20 * time.Second, Poll: 20 * time.Millisecond}
	f := newFixture(t, true, nil)
	newSignerWorld(t, f, "-vv")
	if _, err := f.a.Install(context.Background(), f.bundle(10, 5, 200, false), InstallOptions{ActivateOptions: f.opts(), NoSignal: true}); err != nil {
		t.Fatal(err)
	}
	sr, err := f.a.RestartSigner(context.Background(), opts)
	if err != nil || !sr.Registered || sr.Source != "journal" || sr.Epoch == nil {
		t.Fatalf("got %v, %+v", err, sr)
	}
	// The same process, no metrics: status trusts the restart's record.
	st := f.status(t)
	if st.Mithril.Registered == nil || !*st.Mithril.Registered || st.Verdict() != nil {
		t.Errorf("status: %+v %v", st.Mithril, st.Verdict())
	}

	g := newFixture(t, true, nil)
	newSignerWorld(t, g, "", "KESROTATE_SIGNER_AGGREGATOR=down")
	if _, err := g.a.Install(context.Background(), g.bundle(10, 5, 200, false), InstallOptions{ActivateOptions: g.opts(), NoSignal: true}); err != nil {
		t.Fatal(err)
	}
	opts.Timeout = 2 * time.Second
	sr, err = g.a.RestartSigner(context.Background(), opts)
	if !errors.Is(err, ErrSignerNotRegistered) || !strings.Contains(sr.Detail, "could not retrieve epoch settings") {
		t.Errorf("got %v, %+v", err, sr)
	}
}

// The environment file: only the two lines change (or are added), quoted
// when the path needs it; nothing is written when they are right.
func TestEnsureSignerEnv(t *testing.T) {
	f := newFixture(t, false, nil)
	dir := t.TempDir()
	env := filepath.Join(dir, "signer.env")
	orig := "# keep me\nNETWORK=mainnet\nOPERATIONAL_CERTIFICATE_PATH=\"/old/node cert\"\n; and me\nRUN_INTERVAL=60000"
	if err := os.WriteFile(env, []byte(orig), 0o600); err != nil {
		t.Fatal(err)
	}
	f.a.Config.MithrilEnvFile = env
	f.a.Config.Cert = "/srv/pool one/node.cert"
	ch, err := f.a.ensureSignerEnv()
	if err != nil || len(ch) != 2 {
		t.Fatalf("%v %+v", err, ch)
	}
	got, _ := os.ReadFile(env)
	want := "# keep me\nNETWORK=mainnet\nOPERATIONAL_CERTIFICATE_PATH=\"/srv/pool one/node.cert\"\n; and me\nRUN_INTERVAL=60000\nKES_SECRET_KEY_PATH=" + f.a.Config.KESKey + "\n"
	if string(got) != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
	if ch, err := f.a.ensureSignerEnv(); err != nil || ch != nil {
		t.Errorf("second run: %v %+v", err, ch)
	}
	f.a.Config.MithrilEnvFile = filepath.Join(dir, "missing.env")
	if _, err := f.a.ensureSignerEnv(); !errors.Is(err, ErrSignerEnv) {
		t.Errorf("missing file: %v", err)
	}
}

func TestValidateMithril(t *testing.T) {
	for _, tc := range []struct {
		c    Config
		want string
	}{
		{Config{MithrilMetrics: "http://127.0.0.1:9090/metrics"}, "need its systemd unit"},
		{Config{MithrilSigner: "-x"}, "not a systemd unit name"},
		{Config{MithrilSigner: "mithril signer"}, "not a systemd unit name"},
		{Config{MithrilSigner: "mithril-signer", MithrilMetrics: "127.0.0.1:9090"}, "not an http URL"},
	} {
		if err := validateMithril(&tc.c); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want %q", tc.c, err, tc.want)
		}
	}
	c := Config{MithrilSigner: "mithril-signer.service", MithrilMetrics: "http://127.0.0.1:9090/metrics", MithrilEnvFile: "signer.env"}
	if err := validateMithril(&c); err != nil || !filepath.IsAbs(c.MithrilEnvFile) {
		t.Errorf("%v %+v", err, c)
	}
}
