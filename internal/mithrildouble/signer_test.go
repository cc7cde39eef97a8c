package mithrildouble

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kesrotate/kesrotate/internal/testnode"
	"github.com/kesrotate/kesrotate/opcert"
)

// Sources: input-output-hk/mithril at 2eedbd2, the files the package doc
// names; each test says which it holds the double to.

// A preview tip in KES period 100 (preview has no Byron era: epoch =
// slot / 86400).
var (
	preview = opcert.Preview
	at      = preview.SlotTime(100*preview.SlotsPerKESPeriod + 500)
	epoch   = (100*preview.SlotsPerKESPeriod + 500) / 86400
)

type run struct {
	t      *testing.T
	lines  chan map[string]any
	done   chan int
	watch  string
	port   string
	logRaw *strings.Builder
}

// start runs the signer with the env given on top of a working one, and a
// cert #counter from period c0 with its KES key.
func start(t *testing.T, c0 uint64, env map[string]string, args ...string) *run {
	t.Helper()
	dir := t.TempDir()
	pool, err := testnode.NewPool(5)
	if err != nil {
		t.Fatal(err)
	}
	set, err := pool.Issue(6, 3, c0)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pool.WriteSet(dir, set)
	if err != nil {
		t.Fatal(err)
	}
	watch := filepath.Join(dir, "running")
	if err := os.WriteFile(watch, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	base := map[string]string{
		"KES_SECRET_KEY_PATH": cfg.KESKeyPath, "OPERATIONAL_CERTIFICATE_PATH": cfg.CertPath, "NETWORK": "preview",
		"RUN_INTERVAL": "20", "ENABLE_METRICS_SERVER": "true", "METRICS_SERVER_IP": "127.0.0.1", "METRICS_SERVER_PORT": "0",
		"KESROTATE_SIGNER_PORT_FILE": filepath.Join(dir, "port"), "KESROTATE_SIGNER_NOW": at.Format(time.RFC3339),
		"KESROTATE_SIGNER_WATCH": watch,
	}
	for k, v := range env {
		base[k] = v
	}
	pr, pw := io.Pipe()
	r := &run{t: t, lines: make(chan map[string]any, 1000), done: make(chan int, 1), watch: watch, logRaw: &strings.Builder{}}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			r.logRaw.WriteString(sc.Text() + "\n")
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				r.lines <- m
			}
		}
		close(r.lines)
	}()
	go func() {
		code := Main(args, func(k string) string { return base[k] }, pw, io.Discard)
		pw.Close()
		r.done <- code
	}()
	t.Cleanup(func() {
		os.Remove(watch)
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
		}
	})
	r.port = filepath.Join(dir, "port")
	return r
}

// await reads log lines until one whose msg starts with prefix.
func (r *run) await(prefix string) map[string]any {
	r.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case m, ok := <-r.lines:
			if !ok {
				r.t.Fatalf("the signer stopped before logging %q", prefix)
			}
			if msg, _ := m["msg"].(string); strings.HasPrefix(msg, prefix) {
				return m
			}
		case <-deadline:
			r.t.Fatalf("no log line %q", prefix)
		}
	}
}

func (r *run) metrics() string {
	r.t.Helper()
	b, err := os.ReadFile(r.port)
	if err != nil {
		r.t.Fatal(err)
	}
	resp, err := http.Get("http://127.0.0.1:" + strings.TrimSpace(string(b)) + "/metrics")
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// state_machine.rs: Init → Unregistered → registered; metrics/service.rs
// names; main.rs bunyan lines; server.rs /metrics.
func TestRegisters(t *testing.T) {
	r := start(t, 100, nil, "-vv")
	m := r.await("Transitioned to state: ReadyToSign - ")
	if m["name"] != "mithril-signer" || m["level"] != float64(levelInfo) || m["src"] != "StateMachine" {
		t.Errorf("bunyan line: %v", m)
	}
	want := "Transitioned to state: ReadyToSign - " + itoa(epoch)
	if m["msg"] != want {
		t.Errorf("got %q, want %q", m["msg"], want)
	}
	body := r.metrics()
	for _, line := range []string{
		"# HELP mithril_signer_signer_registration_success_since_startup Number of successful signer registrations since startup on a Mithril signer node\n# TYPE mithril_signer_signer_registration_success_since_startup counter\nmithril_signer_signer_registration_success_since_startup 1\n",
		"mithril_signer_signer_registration_success_last_epoch " + itoa(epoch) + "\n",
		"mithril_signer_signer_registration_total_since_startup 1\n",
	} {
		if !strings.Contains(body, line) {
			t.Errorf("metrics lack %q:\n%s", line, body)
		}
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// error.rs KeepState: an op cert that does not parse is logged at Error,
// the signer keeps running and tries again.
func TestBadCertKeepsState(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "node.cert")
	if err := os.WriteFile(bad, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := start(t, 100, map[string]string{"OPERATIONAL_CERTIFICATE_PATH": bad})
	m := r.await("An error occurred, runtime state kept. message = 'Could not register to aggregator in 'unregistered → registered' phase for epoch Epoch(" + itoa(epoch) + ").'")
	if m["level"] != float64(levelError) || !strings.Contains(m["nested_error"].(string), "File parse failed: operational_certificate_path.") {
		t.Errorf("line: %v", m)
	}
	r.await("An error occurred, runtime state kept.") // again, next cycle
	if body := r.metrics(); !strings.Contains(body, "mithril_signer_signer_registration_success_since_startup 0\n") {
		t.Errorf("metrics:\n%s", body)
	}
	if strings.Contains(r.logRaw.String(), `"level":30`) {
		t.Error("without -v the signer logs at Error and above only")
	}
}

// key_certification.rs KesUpdate is a ProtocolInitializerError:
// handle_registration_result makes it Critical; the process exits.
func TestExpiredKeyIsCritical(t *testing.T) {
	r := start(t, 30, nil) // evolution 70: past the key's last
	m := r.await("A critical error occurred, aborting runtime. message = 'Could not register")
	if m["level"] != float64(levelCritical) || !strings.Contains(m["nested_error"].(string), "KES key cannot be updated for evolution 70") {
		t.Errorf("line: %v", m)
	}
	select {
	case code := <-r.done:
		if code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		r.done <- code
	case <-time.After(10 * time.Second):
		t.Error("the signer did not exit")
	}
}

// A registration round not yet open (RegistrationRoundNotYetOpened) keeps
// the signer unregistered without an error; an aggregator that does not
// answer is a KeepState error.
func TestAggregatorStates(t *testing.T) {
	r := start(t, 100, map[string]string{"KESROTATE_SIGNER_AGGREGATOR": "closed"}, "-vv")
	r.await("Transitioned to state: Unregistered - Epoch(")
	r.await("Transitioned to state: Unregistered - Epoch(")
	if body := r.metrics(); !strings.Contains(body, "mithril_signer_signer_registration_success_since_startup 0\n") {
		t.Errorf("metrics:\n%s", body)
	}
	d := start(t, 100, map[string]string{"KESROTATE_SIGNER_AGGREGATOR": "down"})
	d.await("An error occurred, runtime state kept. message = 'could not retrieve epoch settings at epoch Epoch(")
}
