package producer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kesrotate/kesrotate/internal/safefile"
	"github.com/kesrotate/kesrotate/producer/nodelog"
	"github.com/kesrotate/kesrotate/producer/nodequery"
)

// Relays follow a failover: `relay point-to NAME` rewrites the producer's
// access point in the relay's P2P topology file (the localRoots entry the
// relay keeps a hot connection to) and signals the relay's node, which on
// SIGHUP re-reads its topology and resolves the root peers again
// (cardano-node Run.hs updateTopologyConfiguration; node.md).
//
// Only the bytes of that access point's address and port change: the rest
// of the file — other groups, public roots, formatting — stays as it was.
// Which access point is the producer's is remembered beside the topology
// file (TOPOLOGY.kesrotate), so that later calls move it from one
// producer to another without being told again.

// ErrTopology: the topology file cannot be read or the producer's entry
// cannot be found in it.
var ErrTopology = errors.New("cannot rewrite the topology")

// ErrProducerUnnamed: the topology has more than one local-root access
// point and neither RelayOptions.Replace nor the state file says which is
// the producer's (with ErrTopology).
var ErrProducerUnnamed = errors.New("which one is the producer's must be named the first time")

// RelayStateSuffix names the file beside the topology that remembers the
// producer's access point.
const RelayStateSuffix = ".kesrotate"

// RelayOptions configure PointRelay.
type RelayOptions struct {
	Topology string // the relay's topology file
	Name     string // the producer to point at (bp1, bp2: informative)
	Address  string // its host:port
	// Replace names the access point (host:port) that is the producer's
	// entry, the first time; later the state file says.
	Replace string
	Signal  Signal // pid-file, systemd or none
	// NodeLog (a file or journald[:UNIT]) confirms the reload.
	NodeLog        string
	ConfirmTimeout time.Duration
	Poll           time.Duration
	Now            time.Time
	SignalFunc     func() (string, error) // replaces the signal (tests)
	// MetricsURL, if set, is the relay's metrics endpoint: once the
	// topology stands, the relay must still answer there.
	MetricsURL string
}

// RelayResult says what PointRelay did.
type RelayResult struct {
	From, To     string
	Changed      bool
	Signalled    string
	Confirmation Confirmation
	// Metrics says whether the relay's metrics answer (with MetricsURL),
	// else "".
	Metrics string
	// MetricsOK: they answered.
	MetricsOK bool
}

type relayState struct {
	Producer string    `json:"producer"`
	Address  string    `json:"address"`
	Updated  time.Time `json:"updated"`
}

// accessPoint is one localRoots access point and where its address and
// port values sit in the file.
type accessPoint struct {
	group, index     int
	host             string
	port             uint64
	hostAt, portAt   [2]int64 // byte spans of the two values
	hasHost, hasPort bool
}

func (p accessPoint) String() string { return net.JoinHostPort(p.host, strconv.FormatUint(p.port, 10)) }

// PointRelay points the relay's producer entry at o.Address, atomically,
// signals the relay's node and confirms from its log that it took the new
// access point (its NetworkConfig line, at Info). A refused file puts the
// topology file back. With o.MetricsURL, a relay left pointing at the
// producer is then asked whether it still answers (its liveness: the
// metrics cannot name its local roots), which is reported, not an error.
func PointRelay(ctx context.Context, o RelayOptions) (*RelayResult, error) {
	res, err := pointRelay(ctx, o)
	if err != nil || o.MetricsURL == "" {
		return res, err
	}
	mctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, merr := nodequery.Metrics(mctx, o.MetricsURL)
	cancel()
	res.Metrics, res.MetricsOK = "the relay's metrics answer", merr == nil
	if merr != nil {
		res.Metrics = "the relay's metrics do not answer: " + merr.Error()
	}
	return res, nil
}

func pointRelay(ctx context.Context, o RelayOptions) (*RelayResult, error) {
	host, port, err := splitHostPort(o.Address)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(o.Topology)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTopology, err)
	}
	fi, err := os.Stat(o.Topology)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTopology, err)
	}
	points, err := localRootAccessPoints(data)
	if err != nil {
		return nil, err
	}
	statePath := o.Topology + RelayStateSuffix
	var st relayState
	if b, err := os.ReadFile(statePath); err == nil {
		if err := json.Unmarshal(b, &st); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrTopology, statePath, err)
		}
	}
	want := st.Address
	if o.Replace != "" {
		h, p, err := splitHostPort(o.Replace)
		if err != nil {
			return nil, err
		}
		want = net.JoinHostPort(h, strconv.FormatUint(p, 10))
	}
	var target *accessPoint
	switch {
	case want != "":
		for i := range points {
			if points[i].String() == want {
				target = &points[i]
			}
		}
		if target == nil {
			return nil, fmt.Errorf("%w: no localRoots access point is %s", ErrTopology, want)
		}
	case len(points) == 1:
		target = &points[0]
	default:
		return nil, fmt.Errorf("%w: the topology has %d localRoots access points; %w", ErrTopology, len(points), ErrProducerUnnamed)
	}
	if !target.hasHost || !target.hasPort {
		return nil, fmt.Errorf("%w: the access point %s lacks an address or a port", ErrTopology, target)
	}
	to := net.JoinHostPort(host, strconv.FormatUint(port, 10))
	res := &RelayResult{From: target.String(), To: to}
	if target.String() != to {
		next := splice(data, *target, host, port)
		if _, err := localRootAccessPoints(next); err != nil {
			return nil, fmt.Errorf("rewriting the access point broke the file: %w", err)
		}
		if err := safefile.Replace(o.Topology, next, fi.Mode().Perm()); err != nil {
			return nil, err
		}
		res.Changed = true
	}
	remember := func() error {
		b, _ := json.MarshalIndent(relayState{Producer: o.Name, Address: to, Updated: o.Now.UTC().Truncate(time.Second)}, "", "  ")
		return safefile.Replace(statePath, append(b, '\n'), 0o644)
	}
	if !res.Changed || (o.SignalFunc == nil && o.Signal.Mode == SignalNone) {
		return res, remember()
	}
	var log nodelog.Reader
	if o.NodeLog != "" {
		if log, err = nodelog.Open(o.NodeLog, o.Signal.SystemdUnit, time.Now()); err != nil {
			return res, err
		}
		defer log.Close()
	}
	if err := remember(); err != nil {
		return res, err
	}
	who, err := signalRelay(o)
	if err != nil {
		return res, err
	}
	res.Signalled = who
	if log == nil {
		res.Confirmation = Confirmation{Unconfirmable: true, Detail: "no relay log given: its metrics cannot name its local roots"}
		return res, nil
	}
	timeout := o.ConfirmTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conf, err := confirmTopology(cctx, log, host, port, o.Poll)
	res.Confirmation = conf
	if err != nil {
		// The relay keeps the topology it had: put the file back so that
		// it says what the relay runs.
		if rerr := safefile.Replace(o.Topology, data, fi.Mode().Perm()); rerr != nil {
			return res, fmt.Errorf("%w; restoring the topology file failed too: %w", err, rerr)
		}
		back, _ := json.MarshalIndent(st, "", "  ")
		if st.Address == "" {
			_ = os.Remove(statePath)
		} else if rerr := safefile.Replace(statePath, append(back, '\n'), 0o644); rerr != nil {
			return res, fmt.Errorf("%w; restoring %s failed too: %w", err, statePath, rerr)
		}
		return res, fmt.Errorf("%w; the topology file is back as it was", err)
	}
	return res, nil
}

// ErrRelayNotConfirmed: the relay did not show it re-read the topology.
var ErrRelayNotConfirmed = errors.New("the relay did not take the new topology")

// confirmTopology waits for the relay's reload to name the new access
// point: the NetworkConfig line (Info) lists the local roots it took —
// names fully qualified from 10.6 ("bp2.example.com."), addresses as
// written. A refused file shows as the node's stderr error (in the
// journal) and as no NetworkConfig line: the topology Notice alone cannot
// tell the two apart, so it is reported, not confirmed.
func confirmTopology(ctx context.Context, log nodelog.Reader, host string, port uint64, poll time.Duration) (Confirmation, error) {
	if poll <= 0 {
		poll = 200 * time.Millisecond
	}
	p := strconv.FormatUint(port, 10)
	names := []string{
		`"` + host + `" ` + p, `"` + host + `." ` + p, " " + host + " " + p + ",", // RelayAccessDomain / RelayAccessAddress
		`"address":"` + host + `","port":` + p, `"address":"` + host + `.","port":` + p, // JSON
	}
	var notice time.Time
	for {
		events, _ := log.Read(ctx)
		for _, e := range events {
			switch e.Kind {
			case nodelog.TopologyError:
				why := "the relay refused the topology file: " + e.Message
				return Confirmation{Detail: why}, fmt.Errorf("%w: %s", ErrRelayNotConfirmed, why)
			case nodelog.TopologyRead:
				for _, n := range names {
					if strings.Contains(e.Message, n) {
						return Confirmation{Confirmed: true, Sources: []string{"log"}}, nil
					}
				}
			case nodelog.TopologyUpdate:
				if notice.IsZero() {
					notice = time.Now()
				}
			}
		}
		// The NetworkConfig line, or the error, follows the Notice at once.
		settled := !notice.IsZero() && time.Since(notice) > 2*time.Second
		select {
		case <-ctx.Done():
			settled = true
		case <-time.After(poll):
		}
		if settled {
			if !notice.IsZero() {
				return Confirmation{Unconfirmable: true, Detail: `the relay re-read its topology ("Performing topology configuration update"), but its log does not say which local roots it took: set "Startup.NetworkConfig": {"severity": "Info"} in its TraceOptions to confirm`}, nil
			}
			return Confirmation{Detail: "nothing in the relay's log about a topology update"},
				fmt.Errorf("%w within the timeout: nothing in its log about a topology update", ErrRelayNotConfirmed)
		}
	}
}

func signalRelay(o RelayOptions) (string, error) {
	if o.SignalFunc != nil {
		return o.SignalFunc()
	}
	a := &Agent{Config: Config{Signal: o.Signal}}
	if o.Signal.Mode == SignalProcess {
		return "", fmt.Errorf("%w: a relay is signalled by pid file or systemd unit", ErrConfig)
	}
	pid, err := a.NodePID()
	if err != nil {
		return "", err
	}
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		return "", fmt.Errorf("%w: SIGHUP to pid %d: %w", ErrSignal, pid, err)
	}
	return fmt.Sprintf("pid %d", pid), nil
}

func splitHostPort(s string) (string, uint64, error) {
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, fmt.Errorf("%w: %q is not HOST:PORT", ErrConfig, s)
	}
	port, err := strconv.ParseUint(p, 10, 16)
	if err != nil || port == 0 || h == "" {
		return "", 0, fmt.Errorf("%w: %q is not HOST:PORT", ErrConfig, s)
	}
	return h, port, nil
}

// localRootAccessPoints walks the topology's tokens and returns every
// localRoots access point with the byte spans of its address and port.
func localRootAccessPoints(data []byte) ([]accessPoint, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("%w: not a JSON topology file: %w", ErrTopology, err)
	}
	if _, ok := top["localRoots"]; !ok {
		return nil, fmt.Errorf("%w: the topology has no localRoots (is it a P2P topology file?)", ErrTopology)
	}
	w := &walker{d: json.NewDecoder(bytes.NewReader(data)), data: data}
	w.d.UseNumber()
	if err := w.value(nil); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTopology, err)
	}
	return w.points, nil
}

type walker struct {
	d      *json.Decoder
	data   []byte
	points []accessPoint
}

// value reads one value at path (keys and indexes as strings).
func (w *walker) value(path []string) error {
	before := w.d.InputOffset()
	tok, err := w.d.Token()
	if err != nil {
		return err
	}
	after := w.d.InputOffset()
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			for w.d.More() {
				k, err := w.d.Token()
				if err != nil {
					return err
				}
				key, _ := k.(string)
				if err := w.value(append(path, key)); err != nil {
					return err
				}
			}
		case '[':
			for i := 0; w.d.More(); i++ {
				if err := w.value(append(path, strconv.Itoa(i))); err != nil {
					return err
				}
			}
		}
		_, err := w.d.Token() // the closing delimiter
		return err
	default:
		// localRoots.G.accessPoints.I.(address|port)
		if len(path) == 5 && path[0] == "localRoots" && path[2] == "accessPoints" {
			g, _ := strconv.Atoi(path[1])
			i, _ := strconv.Atoi(path[3])
			p := w.point(g, i)
			start := before + int64(bytes.IndexFunc(w.data[before:after], func(r rune) bool {
				return r != ' ' && r != '\t' && r != '\n' && r != '\r' && r != ':' && r != ','
			}))
			switch v := t.(type) {
			case string:
				if path[4] == "address" {
					p.host, p.hostAt, p.hasHost = v, [2]int64{start, after}, true
				}
			case json.Number:
				if path[4] == "port" {
					n, err := strconv.ParseUint(v.String(), 10, 16)
					if err != nil {
						return fmt.Errorf("localRoots port %s", v)
					}
					p.port, p.portAt, p.hasPort = n, [2]int64{start, after}, true
				}
			}
		}
		return nil
	}
}

func (w *walker) point(g, i int) *accessPoint {
	for k := range w.points {
		if w.points[k].group == g && w.points[k].index == i {
			return &w.points[k]
		}
	}
	w.points = append(w.points, accessPoint{group: g, index: i})
	return &w.points[len(w.points)-1]
}

// splice replaces the two values' bytes, the later one first.
func splice(data []byte, p accessPoint, host string, port uint64) []byte {
	q, _ := json.Marshal(host)
	edits := []struct {
		at  [2]int64
		new []byte
	}{{p.hostAt, q}, {p.portAt, []byte(strconv.FormatUint(port, 10))}}
	if edits[0].at[0] < edits[1].at[0] {
		edits[0], edits[1] = edits[1], edits[0]
	}
	out := append([]byte(nil), data...)
	for _, e := range edits {
		out = append(out[:e.at[0]], append(append([]byte(nil), e.new...), out[e.at[1]:]...)...)
	}
	return out
}
