package cml

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/kesrotate/kesrotate/internal/vectors"
	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/opcert"
)

// goldenPoolID is the pool id cardano-cli derives from
// testvectors/cardano-cli/node-cold.skey.
const goldenPoolID = "cf3c9bbaf970a8b6585bb9e6ed9416698323f3cf630810faac4618d2"

// cmlResult is what opcert.js prints.
type cmlResult struct {
	HotVKey        string `json:"hot_vkey"`
	SequenceNumber string `json:"sequence_number"`
	KESPeriod      string `json:"kes_period"`
	Sigma          string `json:"sigma"`
	ColdVKey       string `json:"cold_vkey"`
	Signable       string `json:"signable"`
	SigmaValid     bool   `json:"sigma_valid"`
	PoolID         string `json:"pool_id"`
	PoolIDBech32   string `json:"pool_id_bech32"`
	BodyRoundtrip  bool   `json:"body_roundtrip"`
}

// harness returns the node binary, or skips (fails when CI=true) when node
// or the pinned npm package is missing.
func harness(t *testing.T) string {
	t.Helper()
	missing := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...) + "; run internal/interop/cml/setup.sh"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node not found: %v", err)
	}
	pkg := filepath.Join("node_modules", "@dcspark", "cardano-multiplatform-lib-nodejs", "package.json")
	if _, err := os.Stat(pkg); err != nil {
		missing("@dcspark/cardano-multiplatform-lib-nodejs not installed: %v", err)
	}
	return node
}

// parseWithCML runs opcert.js on a cert file.
func parseWithCML(t *testing.T, node, certFile string) cmlResult {
	t.Helper()
	cmd := exec.Command(node, "opcert.js", certFile)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node opcert.js %s: %v\n%s", certFile, err, stderr.String())
	}
	var r cmlResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("opcert.js output %q: %v", out, err)
	}
	return r
}

// compare checks every field CML read against the cert kesrotate holds.
func compare(t *testing.T, got cmlResult, c *opcert.Certificate) {
	t.Helper()
	for _, f := range []struct{ name, got, want string }{
		{"hot vkey", got.HotVKey, hex.EncodeToString(c.KESVKey[:])},
		{"sequence number", got.SequenceNumber, strconv.FormatUint(c.Counter, 10)},
		{"KES period", got.KESPeriod, strconv.FormatUint(c.KESPeriod, 10)},
		{"sigma", got.Sigma, hex.EncodeToString(c.Sigma[:])},
		{"cold vkey", got.ColdVKey, hex.EncodeToString(c.Cold[:])},
		{"signable", got.Signable, hex.EncodeToString(opcert.Signable(c.KESVKey, c.Counter, c.KESPeriod))},
		{"pool id", got.PoolID, c.PoolID().Hex()},
		{"pool id bech32", got.PoolIDBech32, c.PoolID().Bech32()},
	} {
		if f.got != f.want {
			t.Errorf("CML %s: got %s, want %s", f.name, f.got, f.want)
		}
	}
	if !got.BodyRoundtrip {
		t.Errorf("CML re-encoded the cert body differently from the file")
	}
}

func seed(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

// TestCMLParsesIssuedCerts issues certs from the cardano-cli golden cold
// key (and a generated one) with keys and opcert, writes them as node.cert
// and has CML parse them and verify sigma with the cold vkey.
func TestCMLParsesIssuedCerts(t *testing.T) {
	node := harness(t)
	golden, err := keys.ParseColdKey(vectors.Read(t, "cardano-cli/node-cold.skey"))
	if err != nil {
		t.Fatalf("reading the golden cold key: %v", err)
	}
	if got := golden.Public().PoolID().Hex(); got != goldenPoolID {
		t.Fatalf("golden pool id: got %s, want %s", got, goldenPoolID)
	}
	generated, err := keys.NewColdKey(seed(0xc0))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		cold      *keys.ColdKey
		kesSeed   byte
		counter   uint64
		kesPeriod uint64
	}{
		{"golden-first-cert", golden, 1, 0, 0},
		{"golden-mainnet-like", golden, 2, 7, 1012},
		{"golden-uint32-boundary", golden, 3, 1<<32 + 5, 1<<16 + 1},
		{"golden-max", golden, 4, math.MaxUint64, math.MaxUint64},
		{"generated-cold", generated, 5, 3, 420},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kes, err := keys.NewKESKey(seed(tc.kesSeed))
			if err != nil {
				t.Fatal(err)
			}
			cert := opcert.Issue(tc.cold, kes.Public(), tc.counter, tc.kesPeriod)
			file := filepath.Join(t.TempDir(), "node.cert")
			if err := os.WriteFile(file, cert.MarshalEnvelope(), 0o600); err != nil {
				t.Fatal(err)
			}
			got := parseWithCML(t, node, file)
			compare(t, got, cert)
			if !got.SigmaValid {
				t.Errorf("CML: sigma does not verify with the cold vkey")
			}
			if tc.cold == golden && got.PoolID != goldenPoolID {
				t.Errorf("CML pool id: got %s, want cardano-cli's %s", got.PoolID, goldenPoolID)
			}
		})
	}
}

// TestCMLRejectsTamperedSigma makes sure the harness can fail: a cert whose
// counter was changed after signing must not verify in CML.
func TestCMLRejectsTamperedSigma(t *testing.T) {
	node := harness(t)
	cold, err := keys.ParseColdKey(vectors.Read(t, "cardano-cli/node-cold.skey"))
	if err != nil {
		t.Fatal(err)
	}
	kes, err := keys.NewKESKey(seed(9))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		tamper func(c *opcert.Certificate)
	}{
		{"counter", func(c *opcert.Certificate) { c.Counter++ }},
		{"kes-period", func(c *opcert.Certificate) { c.KESPeriod-- }},
		{"sigma", func(c *opcert.Certificate) { c.Sigma[10] ^= 0x01 }},
		{"hot-vkey", func(c *opcert.Certificate) { c.KESVKey[0] ^= 0x80 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cert := opcert.Issue(cold, kes.Public(), 5, 800)
			tc.tamper(cert)
			file := filepath.Join(t.TempDir(), "node.cert")
			if err := os.WriteFile(file, cert.MarshalEnvelope(), 0o600); err != nil {
				t.Fatal(err)
			}
			got := parseWithCML(t, node, file)
			compare(t, got, cert)
			if got.SigmaValid {
				t.Errorf("CML: tampered %s verifies, want a bad signature", tc.name)
			}
			if cert.CheckSignature() == nil {
				t.Errorf("opcert: tampered %s verifies, want a bad signature", tc.name)
			}
		})
	}
}

// TestCMLAgreesOnVectors reads certs made by cardano-cli: both libraries
// must read the same fields and agree on the signature, including the trap
// cert whose sigma was made over the pre-2020 signable.
func TestCMLAgreesOnVectors(t *testing.T) {
	node := harness(t)
	dir := vectors.Dir(t)
	type vec struct {
		name      string
		file      string
		wantValid bool
	}
	vecs := []vec{{"cardano-cli-trap", filepath.Join(dir, "cardano-cli", "operational_certificate"), false}}

	var bulk [][]json.RawMessage
	if err := json.Unmarshal(vectors.Read(t, "ouroboros-consensus/bulk-creds-k2.json"), &bulk); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	for i, set := range bulk {
		f := filepath.Join(tmp, fmt.Sprintf("bulk-%d.cert", i))
		if err := os.WriteFile(f, set[0], 0o600); err != nil {
			t.Fatal(err)
		}
		vecs = append(vecs, vec{fmt.Sprintf("bulk-creds-%d", i), f, true})
	}
	if len(vecs) != 3 {
		t.Fatalf("got %d certs, want 3 (1 trap + 2 bulk creds)", len(vecs))
	}
	for _, v := range vecs {
		t.Run(v.name, func(t *testing.T) {
			b, err := os.ReadFile(v.file)
			if err != nil {
				t.Fatal(err)
			}
			cert, err := opcert.Parse(b)
			if err != nil {
				t.Fatalf("opcert.Parse: %v", err)
			}
			got := parseWithCML(t, node, v.file)
			compare(t, got, cert)
			if got.SigmaValid != v.wantValid {
				t.Errorf("CML sigma valid: got %v, want %v", got.SigmaValid, v.wantValid)
			}
			if ours := cert.CheckSignature() == nil; ours != v.wantValid {
				t.Errorf("opcert sigma valid: got %v, want %v", ours, v.wantValid)
			}
		})
	}
}
