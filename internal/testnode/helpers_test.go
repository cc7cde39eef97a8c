package testnode

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blinklabs-io/gouroboros/cbor"

	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/opcert"
)

// The tests run on preview (no Byron era) at a tip in KES period 100.
var (
	network = opcert.Preview
	tipSlot = 100*network.SlotsPerKESPeriod + 4321
)

// fixedLogTime stamps log lines in tests.
var fixedLogTime = time.Date(2026, 8, 25, 12, 0, 0, 123456789, time.UTC)

// syncBuffer collects log lines written from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func mustPool(t *testing.T, seed byte) *Pool {
	t.Helper()
	p, err := NewPool(seed)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustIssue(t *testing.T, p *Pool, kesSeed byte, counter, period uint64) *Set {
	t.Helper()
	s, err := p.Issue(kesSeed, counter, period)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustWrite(t *testing.T, p *Pool, dir string, s *Set) Config {
	t.Helper()
	cfg, err := p.WriteSet(dir, s)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Network = network
	cfg.TipSlot = tipSlot
	cfg.LogClock = func() time.Time { return fixedLogTime }
	return cfg
}

func start(t *testing.T, cfg Config) (*Node, *syncBuffer) {
	t.Helper()
	log := &syncBuffer{}
	cfg.Log = log
	n, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Start: %v\nlog:\n%s", err, log)
	}
	t.Cleanup(func() { _ = n.Close() })
	return n, log
}

func writeEnvelope(t *testing.T, path, typ string, payload []byte) {
	t.Helper()
	cb, err := cbor.Encode(payload)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, (&keys.Envelope{Type: typ, CBOR: cb}).Marshal(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// scrape reads a Prometheus text endpoint into name → value, failing on
// any line that is neither a comment, a sample, nor a labelled sample.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("got status %s, want 200", resp.Status)
	}
	return parseMetrics(t, resp.Body)
}

func parseMetrics(t *testing.T, r io.Reader) map[string]float64 {
	t.Helper()
	m := make(map[string]float64)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexByte(line, '{'); i >= 0 {
			j := strings.LastIndexByte(line, '}')
			line = strings.TrimSpace(line[:i]) + line[j+1:]
		}
		name, val, ok := strings.Cut(line, " ")
		if !ok {
			t.Fatalf("got metrics line %q, want name and value", line)
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			t.Fatalf("got metrics line %q: %v", line, err)
		}
		m[name] = v
	}
	return m
}
