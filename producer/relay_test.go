package producer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kesrotate/kesrotate/internal/testnode"
	"github.com/kesrotate/kesrotate/opcert"
)

// A relay's P2P topology as operators write it (cardano-node's topology
// documentation): the producer in one local root group, another relay in
// a second, public roots and ledger peers, with the operator's own layout.
const relayTopology = `{
  "bootstrapPeers": [ { "address": "backbone.cardano.iog.io", "port": 3001 } ],
  "localRoots": [
    {
      "accessPoints": [
        {"address": "10.0.0.1",   "port": 6000,  "name": "bp1"}
      ],
      "advertise": false, "trustable": true, "valency": 1
    },
    {
      "accessPoints": [ { "address": "relay2.example.org", "port": 3001 } ],
      "advertise": false,
      "valency": 1
    }
  ],
  "publicRoots": [ { "accessPoints": [], "advertise": false } ],
  "useLedgerAfterSlot": 128908821
}
`

func writeTopology(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "topology.json")
	if err := os.WriteFile(p, []byte(text), 0o640); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPointRelayRewritesOnlyTheProducer(t *testing.T) {
	p := writeTopology(t, relayTopology)
	res, err := PointRelay(context.Background(), RelayOptions{Topology: p, Name: "bp2", Address: "10.0.0.2:6001",
		Replace: "10.0.0.1:6000", Signal: Signal{Mode: "none"}, Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed || res.From != "10.0.0.1:6000" || res.To != "10.0.0.2:6001" {
		t.Errorf("got %+v", res)
	}
	got, _ := os.ReadFile(p)
	want := strings.Replace(relayTopology, `{"address": "10.0.0.1",   "port": 6000,`, `{"address": "10.0.0.2",   "port": 6001,`, 1)
	if string(got) != want {
		t.Errorf("got\n%s\nwant only the producer's address and port changed:\n%s", got, want)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o640 {
		t.Errorf("got mode %v, want the file's 0640 kept", fi.Mode().Perm())
	}

	// Later calls remember the producer's entry: back to bp1 without
	// --replace, and again is a no-op.
	if res, err := PointRelay(context.Background(), RelayOptions{Topology: p, Name: "bp1", Address: "10.0.0.1:6000", Signal: Signal{Mode: "none"}, Now: testNow}); err != nil || !res.Changed {
		t.Fatalf("failback: %+v, %v", res, err)
	}
	if got, _ := os.ReadFile(p); string(got) != relayTopology {
		t.Errorf("after failback the file differs from the original:\n%s", got)
	}
	if res, err := PointRelay(context.Background(), RelayOptions{Topology: p, Name: "bp1", Address: "10.0.0.1:6000", Signal: Signal{Mode: "none"}, Now: testNow}); err != nil || res.Changed {
		t.Errorf("again: got %+v, %v, want nothing to do", res, err)
	}
}

func TestPointRelayRefuses(t *testing.T) {
	tests := []struct {
		name, topology, address, replace, want string
	}{
		{"which entry is the producer's", relayTopology, "10.0.0.2:6001", "", "has 2 localRoots access points; which one is the producer's must be named"},
		{"no such entry", relayTopology, "10.0.0.2:6001", "10.9.9.9:1", "no localRoots access point is 10.9.9.9:1"},
		{"not HOST:PORT", relayTopology, "10.0.0.2", "10.0.0.1:6000", `"10.0.0.2" is not HOST:PORT`},
		{"not JSON", "localRoots: []", "10.0.0.2:6001", "", "not a JSON topology file"},
		{"a legacy (non-P2P) topology", `{"Producers": [{"addr": "10.0.0.1", "port": 6000}]}`, "10.0.0.2:6001", "", "no localRoots"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeTopology(t, tt.topology)
			_, err := PointRelay(context.Background(), RelayOptions{Topology: p, Name: "bp2", Address: tt.address, Replace: tt.replace, Signal: Signal{Mode: "none"}, Now: testNow})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want %q", err, tt.want)
			}
			// Only an unnamed producer entry is ErrProducerUnnamed: the
			// CLI's hint for --replace hangs on it.
			if unnamed := tt.replace == "" && strings.Contains(tt.want, "must be named"); errors.Is(err, ErrProducerUnnamed) != unnamed {
				t.Errorf("got %v, want ErrProducerUnnamed %v", err, unnamed)
			}
			if got, _ := os.ReadFile(p); string(got) != tt.topology {
				t.Errorf("the file changed")
			}
			if _, err := os.Stat(p + RelayStateSuffix); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a state file was written")
			}
		})
	}
	t.Run("one local root needs no --replace", func(t *testing.T) {
		p := writeTopology(t, `{"localRoots":[{"accessPoints":[{"address":"bp1.example","port":3000}],"advertise":false,"valency":1}],"publicRoots":[]}`)
		res, err := PointRelay(context.Background(), RelayOptions{Topology: p, Name: "bp2", Address: "bp2.example:3000", Signal: Signal{Mode: "none"}, Now: testNow})
		if err != nil || res.From != "bp1.example:3000" {
			t.Errorf("got %+v, %v", res, err)
		}
		if got, _ := os.ReadFile(p); !strings.Contains(string(got), `"address":"bp2.example","port":3000`) {
			t.Errorf("got %s", got)
		}
	})
}

// A relay that refuses the new topology (its log says so) keeps the old
// one, and the file is put back to match.
func TestPointRelayPutsTheFileBack(t *testing.T) {
	p := writeTopology(t, relayTopology)
	logPath := filepath.Join(t.TempDir(), "relay.log")
	appendLog := func(line string) {
		f, _ := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		_, _ = f.WriteString(line + "\n")
		_ = f.Close()
	}
	appendLog("old line")
	_, err := PointRelay(context.Background(), RelayOptions{Topology: p, Name: "bp2", Address: "10.0.0.2:6001", Replace: "10.0.0.1:6000",
		NodeLog: logPath, Now: testNow, ConfirmTimeout: 5 * time.Second, Poll: 10 * time.Millisecond,
		SignalFunc: func() (string, error) {
			appendLog("\x1b[35m[2026-08-25 12:00:00.1300Z][relay1:Startup.NetworkConfigUpdate](Notice,101)\x1b[0m Performing topology configuration update")
			// The node's handler dies on error (readTopologyFileOrError),
			// which reaches stderr: the journal under systemd.
			appendLog("cardano-node: Cardano.Node.Configuration.TopologyP2P.readTopologyFile: Is your topology file formatted correctly? boom")
			return "test relay", nil
		}})
	if !errors.Is(err, ErrRelayNotConfirmed) || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("got %v, want the relay's error", err)
	}
	if got, _ := os.ReadFile(p); string(got) != relayTopology {
		t.Errorf("the file was not put back")
	}
}

// A relay modelled from each node version: the relay re-reads its
// topology on SIGHUP. With Startup.NetworkConfig at Info its log names
// the new producer; at the shipped Notice it cannot, and the command says
// so without undoing anything; a file the relay refuses (its error on
// stderr, in the journal) is put back.
func TestPointRelayAgainstTheTestNode(t *testing.T) {
	for _, version := range testnode.Versions {
		for _, tc := range []struct {
			name    string
			options map[string]string
			address string
			want    string // "confirmed", "unconfirmable", "refused"
		}{
			{"NetworkConfig at Info", map[string]string{"Startup.NetworkConfig": "Info"}, "10.0.0.2:6001", "confirmed"},
			{"shipped severity", nil, "10.0.0.2:6001", "unconfirmable"},
			{"a name, at Info", map[string]string{"Startup.NetworkConfig": "Info"}, "bp2.example.com:6001", "confirmed"},
		} {
			t.Run(version+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				p := writeTopology(t, relayTopology)
				logPath := filepath.Join(t.TempDir(), "relay.log")
				lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = lf.Close() })
				// No credentials: a relay. Its stderr goes where its log
				// goes, as under systemd.
				n, err := testnode.Start(context.Background(), testnode.Config{Network: opcert.Preview, NodeVersion: version, TipSlot: 1000,
					TopologyFile: p, Tracing: "new", TraceOptions: tc.options, Log: lf, Stderr: lf})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = n.Close() })
				res, err := PointRelay(context.Background(), RelayOptions{Topology: p, Name: "bp2", Address: tc.address, Replace: "10.0.0.1:6000",
					NodeLog: logPath, Now: testNow, ConfirmTimeout: 10 * time.Second, Poll: 10 * time.Millisecond,
					SignalFunc: func() (string, error) { _, _ = n.Reload(); return "test relay", nil }})
				switch tc.want {
				case "confirmed":
					if err != nil || !res.Confirmation.Confirmed {
						t.Fatalf("got %+v, %v, want confirmed", res, err)
					}
				case "unconfirmable":
					if err != nil || !res.Confirmation.Unconfirmable || !strings.Contains(res.Confirmation.Detail, `"Startup.NetworkConfig": {"severity": "Info"}`) {
						t.Fatalf("got %+v, %v, want 'not confirmed' with the line to add", res, err)
					}
				}
				s := n.State()
				if len(s.LocalRoots) == 0 || !strings.HasPrefix(s.LocalRoots[0].AccessPoints[0], strings.Split(tc.address, ":")[0]) {
					t.Errorf("the relay's local roots are %+v, want the first group at %s", s.LocalRoots, tc.address)
				}
			})
		}
	}
}

func TestPointRelayPutsBackARefusedFile(t *testing.T) {
	// 11.0 refuses the unspecified address 0.0.0.0 as an access point
	// (TopologyP2P.hs at 11.0.1); the relay keeps its topology and says
	// why on stderr.
	p := writeTopology(t, relayTopology)
	logPath := filepath.Join(t.TempDir(), "relay.log")
	lf, _ := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	t.Cleanup(func() { _ = lf.Close() })
	n, err := testnode.Start(context.Background(), testnode.Config{Network: opcert.Preview, NodeVersion: testnode.Version110, TipSlot: 1000,
		TopologyFile: p, Log: lf, Stderr: lf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	_, err = PointRelay(context.Background(), RelayOptions{Topology: p, Name: "bp2", Address: "0.0.0.0:6001", Replace: "10.0.0.1:6000",
		NodeLog: logPath, Now: testNow, ConfirmTimeout: 10 * time.Second, Poll: 10 * time.Millisecond,
		SignalFunc: func() (string, error) { _, _ = n.Reload(); return "test relay", nil }})
	if !errors.Is(err, ErrRelayNotConfirmed) || !strings.Contains(err.Error(), "refused the topology file") {
		t.Fatalf("got %v, want the relay's refusal", err)
	}
	if got, _ := os.ReadFile(p); string(got) != relayTopology {
		t.Errorf("the file was not put back")
	}
	if s := n.State(); s.TopologyErrors != 1 || s.LocalRoots[0].AccessPoints[0] != "10.0.0.1:6000" {
		t.Errorf("relay state %+v, want the old topology kept", s)
	}
}

// With a metrics URL, PointRelay asks whether the relay still answers
// there and reports it; a relay that does not answer is no error.
func TestPointRelayProbesTheRelaysMetrics(t *testing.T) {
	p := writeTopology(t, relayTopology)
	n, err := testnode.Start(context.Background(), testnode.Config{Network: opcert.Preview, TipSlot: 1000, TopologyFile: p, MetricsAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	res, err := PointRelay(context.Background(), RelayOptions{Topology: p, Name: "bp2", Address: "10.0.0.2:6001", Replace: "10.0.0.1:6000",
		Signal: Signal{Mode: "none"}, Now: testNow, MetricsURL: n.MetricsURL()})
	if err != nil || !res.MetricsOK || res.Metrics != "the relay's metrics answer" {
		t.Fatalf("got %+v, %v, want the metrics answering", res, err)
	}
	dead := "http://127.0.0.1:" + strconv.Itoa(freePort(t)) + "/metrics"
	res, err = PointRelay(context.Background(), RelayOptions{Topology: p, Name: "bp1", Address: "10.0.0.1:6000", Signal: Signal{Mode: "none"}, Now: testNow, MetricsURL: dead})
	if err != nil || res.MetricsOK || !strings.HasPrefix(res.Metrics, "the relay's metrics do not answer: ") || !res.Changed {
		t.Fatalf("got %+v, %v, want the topology changed and the silence reported", res, err)
	}
}
