package hostile

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kesrotate/kesrotate/auditlog"
	"github.com/kesrotate/kesrotate/backup"
	"github.com/kesrotate/kesrotate/ceremony"
	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/producer"
	"github.com/kesrotate/kesrotate/transfer"
)

// verbs are the ways a secret might be printed by accident.
var verbs = []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d"}

// redactedTypes are the secret types: each prints exactly [REDACTED] for
// every verb, by value and by pointer (TestSecretsRedacted), and
// TestSecretTypesAreListed fails for a struct with secret-looking fields
// that is neither here nor in notSecretTypes. The unexported ones cannot be
// made here: for them the scan checks the three methods are declared.
var redactedTypes = map[string]bool{
	"keys.ColdKey":           true,
	"keys.KESKey":            true,
	"keys.VRFKey":            true,
	"transfer.Bundle":        true,
	"transfer.wireBundle":    true,
	"transfer.wireBundleV2":  true,
	"transfer.wireBundleV3":  true,
	"producer.Candidate":     true,
	"auditlog.SignerKey":     true,
	"auditlog.ed25519Signer": true,
	"backup.Mnemonic":        true,
	"ceremony.Encryption":    true,
	"ceremony.ImportOptions": true,
	"ceremony.HWImport":      true,
	"backup.RestoreOptions":  true,
	"ceremony.secretState":   true,
}

// notSecretTypes hold secret-looking fields that are not secrets, or hold
// secret types only behind pointers (fmt prints a nested pointer as an
// address, or through the pointee's own Format).
var notSecretTypes = map[string]string{
	"backup.ShareSet":                   "its Mnemonic shares print [REDACTED] themselves (checked below)",
	"internal/cli/agent.initOptions":    "kesKey and hwIdentity are file paths",
	"internal/cli/cold.importOptions":   "coldSkey and vrfSkey are file paths",
	"internal/cli/cold.importHWOptions": "signingFile, counter and vrfSkey are file paths",
	"internal/cli/cold.restoreOptions":  "vrfSkey is a file path",
	"internal/cli/cold.verifyOptions":   "kesSkey and vrfSkey are file paths",
	"producer.Config":                   "KESKey is the path cardano-node reads the KES key from",
	"producer.InitOptions":              "HardwareIdentity is the plugin identity file's path (the key stays in hardware)",
}

func vectorFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(vectors(t), "cardano-cli", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSecretsRedacted(t *testing.T) {
	coldFile := vectorFile(t, "node-cold.skey")
	vrfFile := vectorFile(t, "vrf_keys.signing_key")
	cold, err := keys.ParseColdKey(coldFile)
	if err != nil {
		t.Fatal(err)
	}
	vrf, err := keys.ParseVRFKey(vrfFile)
	if err != nil {
		t.Fatal(err)
	}
	kes, err := keys.NewKESKey(bytes.Repeat([]byte{0x5a}, 32))
	if err != nil {
		t.Fatal(err)
	}
	id, err := auditlog.NewVaultID(bytes.NewReader(bytes.Repeat([]byte{7}, 64)))
	if err != nil {
		t.Fatal(err)
	}
	signerKey, _, err := auditlog.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{9}, 64)), id)
	if err != nil {
		t.Fatal(err)
	}
	// A stretch of the KES key's secret bytes, as hex, from its envelope.
	env, err := keys.ParseEnvelope(kes.MarshalEnvelope())
	if err != nil {
		t.Fatal(err)
	}
	kesHex := fmt.Sprintf("%x", env.CBOR[8:24])
	words := "academic acid acrobat romp chubby entrance shelter gravity spider"
	mn := backup.NewMnemonic(words)
	pass := []byte("correct horse battery staple")

	for _, c := range []struct {
		name string
		val  any // a value; its pointer is checked too
		ptr  any
	}{
		{"keys.ColdKey", *cold, cold},
		{"keys.KESKey", *kes, kes},
		{"keys.VRFKey", *vrf, vrf},
		{"transfer.Bundle", transfer.Bundle{KES: kes, VRF: vrf, Checkpoint: []byte("note")}, &transfer.Bundle{KES: kes, VRF: vrf}},
		{"producer.Candidate", producer.Candidate{Bundle: &transfer.Bundle{KES: kes}}, &producer.Candidate{}},
		{"auditlog.SignerKey", signerKey, &signerKey},
		{"backup.Mnemonic", mn, &mn},
		{"ceremony.Encryption", ceremony.Encryption{Passphrase: pass}, &ceremony.Encryption{Passphrase: pass}},
		{"ceremony.ImportOptions", ceremony.ImportOptions{ColdSkey: coldFile, VRFSkey: vrfFile}, &ceremony.ImportOptions{ColdSkey: coldFile}},
		{"ceremony.HWImport", ceremony.HWImport{SigningFile: []byte("{}"), VRFSkey: vrfFile}, &ceremony.HWImport{VRFSkey: vrfFile}},
		{"backup.RestoreOptions", backup.RestoreOptions{Shares: []backup.Mnemonic{mn}, Passphrase: pass, VRFSkey: vrfFile}, &backup.RestoreOptions{Passphrase: pass}},
	} {
		if !redactedTypes[c.name] {
			t.Errorf("%s is tested but not in redactedTypes", c.name)
		}
		for _, v := range []any{c.val, c.ptr} {
			for _, verb := range verbs {
				if got := fmt.Sprintf(verb, v); got != keys.Redacted {
					t.Errorf("%s: fmt.Sprintf(%q, %T) = %q, want %q", c.name, verb, v, clip(got), keys.Redacted)
				}
			}
		}
	}

	// The audit log's raw Ed25519 signer is only reachable as a note.Signer.
	signer, err := auditlog.NewEd25519Signer("producer.example", ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	for _, verb := range verbs {
		if got := fmt.Sprintf(verb, signer); got != keys.Redacted {
			t.Errorf("auditlog.NewEd25519Signer: fmt.Sprintf(%q) = %q, want %q", verb, clip(got), keys.Redacted)
		}
	}

	// Structs that hold secrets in exported fields print them through the
	// secrets' own Format: no word, byte or hex digit of the secret shows.
	for _, c := range []struct {
		name   string
		val    any
		secret []string
	}{
		{"backup.ShareSet", backup.ShareSet{Pool: "gd", Threshold: 2, Shares: []backup.Mnemonic{mn, mn}}, strings.Fields(words)},
		{"ceremony.IssueResult", ceremony.IssueResult{KES: kes, Checkpoint: []byte("n")}, []string{kesHex}},
		{"a struct holding *keys.ColdKey", struct{ Key *keys.ColdKey }{cold}, []string{"86f64a96", "134 246 74"}},
	} {
		for _, verb := range verbs {
			got := fmt.Sprintf(verb, c.val)
			for _, s := range c.secret {
				if strings.Contains(got, s) {
					t.Errorf("%s: fmt.Sprintf(%q) = %q holds %q", c.name, verb, clip(got), s)
				}
			}
		}
	}
}

func clip(s string) string {
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}
