// Package mithrildouble stands in for a Mithril signer (mithril-signer) in
// tests: a process that reads the pool's KES key and op cert from the files
// its environment names, registers with an aggregator once per epoch, logs
// as the signer logs and serves its metrics.
//
// Written from input-output-hk/mithril at commit 2eedbd2:
//
//   - mithril-signer/src/main.rs: -v flags set the log level (none Error,
//     -v Warning, -vv Info, -vvv Debug, more Trace); the log is slog-bunyan
//     JSON on stdout (name "mithril-signer", numeric levels); the metrics
//     server runs only with ENABLE_METRICS_SERVER=true, on
//     METRICS_SERVER_IP (0.0.0.0) and METRICS_SERVER_PORT (9090); the other
//     settings come from the environment without a prefix
//     (config::Environment::default()): KES_SECRET_KEY_PATH,
//     OPERATIONAL_CERTIFICATE_PATH, NETWORK, RUN_INTERVAL (ms);
//   - internal/mithril-metric/src/server.rs: GET /metrics;
//   - mithril-signer/src/metrics/service.rs: the eight metrics (names and
//     help texts), counters that start at 0 with each process;
//   - mithril-signer/src/runtime/state_machine.rs: the cycle at every run
//     interval (the first at once): "New cycle: <state>", Init →
//     Unregistered, registration (registration_total first, then
//     registration_success and the last-epoch gauge), "Transitioned to
//     state: ReadyToSign - <epoch>" / "Unregistered - Epoch(<n>)", "Keeping
//     current state: …"; a registration round not yet open keeps the state
//     with no error; the state's Display (ReadyToSign - 123, Unregistered -
//     Epoch(123));
//   - mithril-signer/src/runtime/error.rs: a KeepState error logs at Error
//     "An error occurred, runtime state kept. message = '<m>'" with a
//     nested_error field and the next cycle tries again; a Critical one logs
//     at Critical "A critical error occurred, aborting runtime. message =
//     '<m>'" and the process exits with an error;
//   - mithril-signer/src/runtime/runner.rs register_signer_to_aggregator:
//     the op cert is read from its file at each registration ("File parse
//     failed: operational_certificate_path."), the KES key evolved to the
//     current KES period minus the cert's; mithril-common
//     crypto_helper/cardano/key_certification.rs: "KES key cannot be
//     updated for evolution N", a ProtocolInitializerError, which
//     handle_registration_result makes Critical; every other registration
//     error is KeepState: "Could not register to aggregator in 'unregistered
//     → registered' phase for epoch Epoch(N).".
//
// Where it is simpler than the signer: there is no aggregator, no node
// socket, no stake distribution and no signing after registration; the
// aggregator's check that the KES key is the cert's hot key and that the
// cold key signed the cert is done here (a refusal is a KeepState error
// whose nested error is the double's own text); the epoch and the KES
// period come from the network's parameters and the clock. Test knobs:
// KESROTATE_SIGNER_NOW (RFC 3339: the clock starts there),
// KESROTATE_SIGNER_AGGREGATOR (open, the default; closed: the registration
// round is not open yet; down: the aggregator does not answer),
// KESROTATE_SIGNER_PORT_FILE (the metrics port is kept in this file, so
// that a restarted signer serves on the same port), KESROTATE_SIGNER_WATCH
// (the signer stops when this path is gone: the end of a test).
package mithrildouble

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/blinklabs-io/gouroboros/kes"
	"github.com/fxamacker/cbor/v2"

	"github.com/kesrotate/kesrotate/opcert"
)

// Metric names and help texts (metrics/service.rs).
var metricDefs = []struct{ name, help, kind string }{
	{"mithril_signer_signer_registration_success_since_startup", "Number of successful signer registrations since startup on a Mithril signer node", "counter"},
	{"mithril_signer_signer_registration_total_since_startup", "Number of signer registrations since startup on a Mithril signer node", "counter"},
	{"mithril_signer_signer_registration_success_last_epoch", "Latest epoch at which signer successfully registered on a Mithril signer node", "gauge"},
	{"mithril_signer_signature_registration_success_since_startup", "Number of successful signature registrations since startup on a Mithril signer node", "counter"},
	{"mithril_signer_signature_registration_total_since_startup", "Number of signature registrations since startup on a Mithril signer node", "counter"},
	{"mithril_signer_signature_registration_success_last_epoch", "Latest epoch at which signature successfully registered on a Mithril signer node", "gauge"},
	{"mithril_signer_runtime_cycle_success_since_startup", "Number of successful runtime cycles since startup on a Mithril signer node", "counter"},
	{"mithril_signer_runtime_cycle_total_since_startup", "Number of runtime cycles since startup on a Mithril signer node", "counter"},
}

// upstream is an error whose text is the signer's own, capitals and all.
type upstream string

func (e upstream) Error() string { return string(e) }

// Bunyan levels slog-bunyan writes.
const (
	levelCritical = 60
	levelError    = 50
	levelWarning  = 40
	levelInfo     = 30
	levelDebug    = 20
)

// Main runs the signer until SIGTERM or SIGINT (exit 0) or a critical
// error (exit 1).
func Main(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	verbose := 0
	for _, a := range args {
		switch {
		case strings.HasPrefix(a, "-v") && strings.Trim(a[1:], "v") == "":
			verbose += len(a) - 1
		case a == "--verbose":
			verbose++
		}
	}
	minLevel := [...]int{levelError, levelWarning, levelInfo, levelDebug}[min(verbose, 3)]
	s := &signer{getenv: getenv, out: stdout, minLevel: minLevel, metrics: map[string]float64{}}
	for _, m := range metricDefs {
		s.metrics[m.name] = 0
	}
	if err := s.configure(); err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return 1
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	if getenv("ENABLE_METRICS_SERVER") == "true" {
		stop, err := s.serveMetrics()
		if err != nil {
			s.log(levelCritical, "MetricsServer", fmt.Sprintf("could not start the metrics server: %v", err))
			return 1
		}
		defer stop()
	}
	s.log(levelInfo, "StateMachine", "Launching State Machine")
	tick := time.NewTicker(s.interval)
	defer tick.Stop()
	for {
		if s.watch != "" {
			if _, err := os.Stat(s.watch); err != nil {
				return 0
			}
		}
		if err := s.cycle(); err != nil {
			return 1
		}
		select {
		case <-sigs:
			s.log(levelWarning, "", "signal received, shutting down")
			return 0
		case <-tick.C:
		}
	}
}

type signer struct {
	getenv   func(string) string
	out      io.Writer
	minLevel int
	interval time.Duration
	network  opcert.Network
	clock    func() time.Time
	watch    string

	state string // Init, Unregistered, ReadyToSign
	epoch uint64

	mu      sync.Mutex
	metrics map[string]float64
}

func (s *signer) configure() error {
	s.interval = 60 * time.Second
	if v := s.getenv("RUN_INTERVAL"); v != "" {
		ms, err := strconv.Atoi(v)
		if err != nil || ms <= 0 {
			return fmt.Errorf("invalid RUN_INTERVAL %q", v)
		}
		s.interval = time.Duration(ms) * time.Millisecond
	}
	n, err := opcert.NetworkByName(s.getenv("NETWORK"))
	if err != nil {
		return fmt.Errorf("configuration error: network %q", s.getenv("NETWORK"))
	}
	s.network = n
	s.clock = time.Now
	if v := s.getenv("KESROTATE_SIGNER_NOW"); v != "" {
		t0, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return err
		}
		started := time.Now()
		s.clock = func() time.Time { return t0.Add(time.Since(started)) }
	}
	s.watch = s.getenv("KESROTATE_SIGNER_WATCH")
	s.state = "Init"
	return nil
}

// log writes one bunyan line at level, if the verbosity lets it through.
func (s *signer) log(level int, src, msg string, kv ...string) {
	if level < s.minLevel {
		return
	}
	host, _ := os.Hostname()
	rec := map[string]any{"msg": msg, "v": 0, "name": "mithril-signer", "level": level,
		"time": time.Now().Format("2006-01-02T15:04:05.000000000-07:00"), "hostname": host, "pid": os.Getpid()}
	if src != "" {
		rec["src"] = src
	}
	for i := 0; i+1 < len(kv); i += 2 {
		rec[kv[i]] = kv[i+1]
	}
	b, _ := json.Marshal(rec)
	fmt.Fprintf(s.out, "%s\n", b)
}

func (s *signer) inc(name string) {
	s.mu.Lock()
	s.metrics[name]++
	s.mu.Unlock()
}

func (s *signer) set(name string, v float64) {
	s.mu.Lock()
	s.metrics[name] = v
	s.mu.Unlock()
}

// epochAt is the epoch of the network at t: Byron epochs of 21600 slots
// (preprod has 4, mainnet 208), then Shelley epochs of 432000 slots
// (86400 on preview).
func (s *signer) epochAt(t time.Time) uint64 {
	slot, err := s.network.SlotAt(t)
	if err != nil {
		return 0
	}
	byronEpochs := s.network.ByronSlots / 21600
	length := uint64(432000)
	if s.network.Name == "preview" {
		length = 86400
	}
	if slot < s.network.ByronSlots {
		return slot / 21600
	}
	return byronEpochs + (slot-s.network.ByronSlots)/length
}

// cycle is StateMachine::cycle. A critical error returns non-nil.
func (s *signer) cycle() error {
	const src = "StateMachine"
	s.log(levelInfo, src, "================================================================================")
	s.log(levelInfo, src, "New cycle: "+s.display())
	s.inc("mithril_signer_runtime_cycle_total_since_startup")
	now := s.clock()
	epoch := s.epochAt(now)
	keepState := func(message string, nested error) {
		s.log(levelError, src, "An error occurred, runtime state kept. message = '"+message+"'", "nested_error", fmt.Sprintf("%q", nested.Error()))
	}
	switch s.state {
	case "Init":
		s.state, s.epoch = "Unregistered", epoch
		s.log(levelInfo, src, "Transitioned to state: "+s.display())
	case "Unregistered":
		if epoch > s.epoch {
			s.epoch = epoch
			s.log(levelInfo, src, "→ Epoch has changed, transitioning to Unregistered")
			s.log(levelInfo, src, "Transitioned to state: "+s.display())
			break
		}
		if s.getenv("KESROTATE_SIGNER_AGGREGATOR") == "down" {
			keepState(fmt.Sprintf("could not retrieve epoch settings at epoch Epoch(%d)", epoch), errors.New("error sending request for url (http://aggregator/epoch-settings)"))
			return nil
		}
		s.log(levelInfo, src, "→ Epoch Signer registrations found")
		s.log(levelInfo, src, "→ Mithril network configuration found")
		s.log(levelInfo, src, "New Epoch found")
		s.log(levelInfo, src, " ⋅ Transitioning to Registered")
		s.inc("mithril_signer_signer_registration_total_since_startup")
		if s.getenv("KESROTATE_SIGNER_AGGREGATOR") == "closed" {
			s.log(levelInfo, src, "Transitioned to state: "+s.display())
			break
		}
		critical, err := s.register(now)
		message := fmt.Sprintf("Could not register to aggregator in 'unregistered → registered' phase for epoch Epoch(%d).", epoch)
		switch {
		case critical:
			s.log(levelCritical, src, "A critical error occurred, aborting runtime. message = '"+message+"'", "nested_error", fmt.Sprintf("%q", err.Error()))
			return err
		case err != nil:
			keepState(message, err)
			return nil
		}
		s.inc("mithril_signer_signer_registration_success_since_startup")
		s.set("mithril_signer_signer_registration_success_last_epoch", float64(epoch))
		s.state = "ReadyToSign"
		s.log(levelInfo, src, "Transitioned to state: "+s.display())
	case "ReadyToSign":
		if epoch > s.epoch {
			s.state, s.epoch = "Unregistered", epoch
			s.log(levelInfo, src, "→ Epoch has changed, transitioning to Unregistered")
			s.log(levelInfo, src, "Transitioned to state: "+s.display())
			break
		}
		s.log(levelInfo, src, " ⋅ No beacon to sign, waiting…")
		s.log(levelInfo, src, "Keeping current state: "+s.display())
	}
	s.inc("mithril_signer_runtime_cycle_success_since_startup")
	return nil
}

func (s *signer) display() string {
	switch s.state {
	case "Unregistered":
		return fmt.Sprintf("Unregistered - Epoch(%d)", s.epoch)
	case "ReadyToSign":
		return fmt.Sprintf("ReadyToSign - %d", s.epoch)
	}
	return s.state
}

// register reads the op cert and the KES key as register_signer_to_aggregator
// does and makes the checks the signer and its aggregator make. critical:
// the KES key cannot be evolved (a ProtocolInitializerError).
func (s *signer) register(now time.Time) (critical bool, err error) {
	oc, err := readOpCert(s.getenv("OPERATIONAL_CERTIFICATE_PATH"))
	if err != nil {
		return false, upstream("File parse failed: operational_certificate_path.")
	}
	key, err := readKESKey(s.getenv("KES_SECRET_KEY_PATH"))
	if err != nil {
		return false, fmt.Errorf("KES key: %w", err)
	}
	defer clear(key)
	kp, err := s.network.KESPeriodAt(now)
	if err != nil {
		return false, err
	}
	if kp < oc.c0 || kp-oc.c0 >= 64 {
		return true, fmt.Errorf("KES key cannot be updated for evolution %d", int64(kp)-int64(oc.c0))
	}
	evolution := kp - oc.c0
	sk := &kes.SecretKey{Depth: 6, Data: bytes.Clone(key)}
	for sk.Period < evolution {
		next, err := kes.Update(sk)
		if err != nil {
			return true, fmt.Errorf("KES key cannot be updated for evolution %d", evolution)
		}
		sk = next
	}
	defer sk.Zeroize()
	msg := []byte("mithril signer registration")
	sig, err := kes.Sign(sk, evolution, msg)
	if err != nil || !kes.VerifySignedKES(oc.hot[:], evolution, msg, sig) {
		return false, errors.New("the aggregator refused the registration: the KES signature does not verify under the operational certificate's KES key")
	}
	signable := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(append([]byte(nil), oc.hot[:]...), oc.n), oc.c0)
	if !ed25519.Verify(oc.cold[:], signable, oc.sigma[:]) {
		return false, errors.New("the aggregator refused the registration: the operational certificate's signature does not verify")
	}
	return false, nil
}

type opCert struct {
	hot, cold [32]byte
	n, c0     uint64
	sigma     [64]byte
}

func readEnvelope(path, typ string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var te struct {
		Type    string `json:"type"`
		CBORHex string `json:"cborHex"`
	}
	if err := json.Unmarshal(b, &te); err != nil {
		return nil, err
	}
	if te.Type != typ {
		return nil, fmt.Errorf("type %q, want %q", te.Type, typ)
	}
	return hex.DecodeString(te.CBORHex)
}

func readOpCert(path string) (*opCert, error) {
	raw, err := readEnvelope(path, "NodeOperationalCertificate")
	if err != nil {
		return nil, err
	}
	var v struct {
		_    struct{} `cbor:",toarray"`
		Cert struct {
			_     struct{} `cbor:",toarray"`
			VK    []byte
			N     uint64
			C0    uint64
			Sigma []byte
		}
		Cold []byte
	}
	if err := cbor.Unmarshal(raw, &v); err != nil || len(v.Cert.VK) != 32 || len(v.Cert.Sigma) != 64 || len(v.Cold) != 32 {
		return nil, errors.New("not an operational certificate")
	}
	oc := &opCert{n: v.Cert.N, c0: v.Cert.C0}
	copy(oc.hot[:], v.Cert.VK)
	copy(oc.cold[:], v.Cold)
	copy(oc.sigma[:], v.Cert.Sigma)
	return oc, nil
}

func readKESKey(path string) ([]byte, error) {
	raw, err := readEnvelope(path, "KesSigningKey_ed25519_kes_2^6")
	if err != nil {
		return nil, err
	}
	var key []byte
	if err := cbor.Unmarshal(raw, &key); err != nil || len(key) != 608 {
		return nil, errors.New("not a KES signing key")
	}
	return key, nil
}

// serveMetrics listens as MetricsServer does, on the port kept in
// KESROTATE_SIGNER_PORT_FILE when there is one.
func (s *signer) serveMetrics() (func(), error) {
	ip := s.getenv("METRICS_SERVER_IP")
	if ip == "" {
		ip = "0.0.0.0"
	}
	port := s.getenv("METRICS_SERVER_PORT")
	if port == "" {
		port = "9090"
	}
	portFile := s.getenv("KESROTATE_SIGNER_PORT_FILE")
	if portFile != "" {
		if b, err := os.ReadFile(portFile); err == nil {
			port = strings.TrimSpace(string(b))
		}
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, port))
	if err != nil {
		return nil, err
	}
	if portFile != "" {
		_, p, _ := net.SplitHostPort(ln.Addr().String())
		if err := os.WriteFile(portFile, []byte(p+"\n"), 0o644); err != nil {
			_ = ln.Close()
			return nil, err
		}
	}
	s.log(levelInfo, "MetricsServer", "Starting HTTP server for metrics on port "+port)
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, s.export())
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

// export is the prometheus crate's text format: families sorted by name,
// HELP and TYPE before each sample.
func (s *signer) export() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	defs := append(metricDefs[:0:0], metricDefs...)
	sort.Slice(defs, func(i, j int) bool { return defs[i].name < defs[j].name })
	var b strings.Builder
	for _, m := range defs {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n%s %s\n", m.name, m.help, m.name, m.kind, m.name, strconv.FormatFloat(s.metrics[m.name], 'f', -1, 64))
	}
	return b.String()
}
