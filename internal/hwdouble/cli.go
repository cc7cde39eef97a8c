package hwdouble

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Main is the double's cardano-hw-cli: the two node commands a pool
// operator runs with a cold key on a Ledger, with cardano-hw-cli's flags,
// files and messages (vacuumlabs/cardano-hw-cli: src/command-parser/
// parserConfig.ts, src/commandExecutor.ts, src/fileWriter.ts,
// src/command-parser/parsers.ts):
//
//	node key-gen --path P --hw-signing-file F --cold-verification-key-file F
//	    --operational-certificate-issue-counter-file F   (each repeatable)
//	node issue-op-cert --kes-verification-key-file F --kes-period N
//	    --operational-certificate-issue-counter-file F --hw-signing-file F --out-file F
//
// issue-op-cert signs with the counter file's number and then writes that
// number + 1 back into it, as cardano-hw-cli does. The device is set by
// the environment: HWDOUBLE_MNEMONIC (TestMnemonic if unset),
// HWDOUBLE_PASSPHRASE, HWDOUBLE_DERIVATION (LEDGER or ICARUS); with
// HWDOUBLE_REJECT=1 the operator rejects on the device; HWDOUBLE_SCREEN
// names a file the device's screens are appended to, one a line.
func Main(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) < 2 || args[0] != "node" {
		fmt.Fprintln(stderr, "usage: cardano-hw-cli node {key-gen,issue-op-cert} … (the test double knows only these)")
		return 2
	}
	cmd := "cardano-hw-cli node " + args[1]
	var spec map[string]bool // flag -> repeatable
	switch args[1] {
	case "key-gen":
		spec = map[string]bool{"--path": true, "--hw-signing-file": true, "--cold-verification-key-file": true, "--operational-certificate-issue-counter-file": true}
	case "issue-op-cert":
		spec = map[string]bool{"--kes-verification-key-file": false, "--kes-period": false, "--operational-certificate-issue-counter-file": false, "--hw-signing-file": true, "--out-file": false}
	default:
		fmt.Fprintf(stderr, "%s: error: unknown command (the test double knows key-gen and issue-op-cert)\n", cmd)
		return 2
	}
	flags, err := parseFlags(args[2:], spec)
	if err != nil {
		fmt.Fprintf(stderr, "%s: error: %v\n", cmd, err)
		return 2
	}
	d, err := deviceFromEnv(getenv)
	if err == nil {
		if args[1] == "key-gen" {
			err = keyGen(d, flags, getenv, stdout)
		} else {
			err = issueOpCert(d, flags, getenv, stdout)
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "Error:", err)
		return 1
	}
	return 0
}

func deviceFromEnv(getenv func(string) string) (*Device, error) {
	m := getenv("HWDOUBLE_MNEMONIC")
	if m == "" {
		m = TestMnemonic
	}
	der, err := ParseDerivation(getenv("HWDOUBLE_DERIVATION"))
	if err != nil {
		return nil, err
	}
	return NewDevice(m, getenv("HWDOUBLE_PASSPHRASE"), der)
}

// parseFlags takes "--flag value" and "--flag=value"; every flag of spec
// is required, and only the repeatable ones may be given twice.
func parseFlags(args []string, spec map[string]bool) (map[string][]string, error) {
	out := map[string][]string{}
	for i := 0; i < len(args); i++ {
		name, val, hasVal := strings.Cut(args[i], "=")
		repeat, known := spec[name]
		if !known {
			return nil, fmt.Errorf("unrecognized arguments: %s", args[i])
		}
		if !hasVal {
			if i+1 >= len(args) {
				return nil, fmt.Errorf("argument %s: expected one argument", name)
			}
			i++
			val = args[i]
		}
		if len(out[name]) > 0 && !repeat {
			return nil, fmt.Errorf("argument %s: given twice", name)
		}
		out[name] = append(out[name], val)
	}
	var missing []string
	for name := range spec {
		if len(out[name]) == 0 {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("the following arguments are required: %s", strings.Join(sorted(missing), ", "))
	}
	return out, nil
}

func sorted(s []string) []string {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}

// envelope is the JSON cardano-hw-cli writes: JSON.stringify(data, null,
// 4), keys in this order, no newline at the end.
type envelope struct {
	Type        string `json:"type"`
	Description string `json:"description"`
	CBORHex     string `json:"cborHex"`
}

type signingFile struct {
	Type           string `json:"type"`
	Description    string `json:"description"`
	Path           string `json:"path"`
	CBORXPubKeyHex string `json:"cborXPubKeyHex"`
}

// Pool cold signing files as cardano-hw-cli writes them since its Conway
// release (fileWriter.ts: getHwSigningFileType, hwsfileDescription).
const (
	signingFileType        = "StakePoolHWSigningFile_ed25519"
	signingFileDescription = "Stake Pool Hardware Signing File"
)

func writeOutput(stdout io.Writer, path string, v any) error {
	fmt.Fprintf(stdout, "Writing to file '%s'.\n", path)
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "    ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	return os.WriteFile(path, bytes.TrimSuffix(b.Bytes(), []byte("\n")), 0o666)
}

func keyGen(d *Device, f map[string][]string, getenv func(string) string, stdout io.Writer) error {
	paths, hws, vks, ctrs := f["--path"], f["--hw-signing-file"], f["--cold-verification-key-file"], f["--operational-certificate-issue-counter-file"]
	if len(hws) != len(paths) || len(vks) != len(paths) || len(ctrs) != len(paths) {
		return upstream("Invalid node key-gen inputs")
	}
	for i, p := range paths {
		path, err := ParsePath(p)
		if err != nil {
			return upstream("Can not parse path")
		}
		if !IsPoolColdKeyPath(path) {
			return upstream("Invalid node key-gen inputs")
		}
		if getenv("HWDOUBLE_REJECT") == "1" {
			return rejected()
		}
		xpub, err := d.PoolColdXPub(path)
		if err != nil {
			return failed(err)
		}
		var cold [32]byte
		copy(cold[:], xpub[:32])
		if err := writeOutput(stdout, hws[i], signingFile{Type: signingFileType, Description: signingFileDescription,
			Path: FormatPath(path), CBORXPubKeyHex: hex.EncodeToString(appendBytes(nil, xpub[:]))}); err != nil {
			return err
		}
		if err := writeOutput(stdout, vks[i], envelope{Type: "StakePoolVerificationKey_ed25519",
			Description: "Hardware Stake Pool Operator Verification Key", CBORHex: hex.EncodeToString(appendBytes(nil, cold[:]))}); err != nil {
			return err
		}
		if err := writeOutput(stdout, ctrs[i], counterFile(0, cold)); err != nil {
			return err
		}
	}
	return nil
}

func counterFile(n uint64, cold [32]byte) envelope {
	return envelope{Type: "NodeOperationalCertificateIssueCounter",
		Description: "Next certificate issue number: " + strconv.FormatUint(n, 10),
		CBORHex:     hex.EncodeToString(encodeCounter(n, cold))}
}

// readJSON reads one of cardano-hw-cli's JSON inputs.
func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func issueOpCert(d *Device, f map[string][]string, getenv func(string) string, stdout io.Writer) error {
	counterPath := f["--operational-certificate-issue-counter-file"][0]
	var ce envelope
	if err := readJSON(counterPath, &ce); err != nil || ce.Type != "NodeOperationalCertificateIssueCounter" {
		return upstream("Invalid operational certificate issue counter file")
	}
	cb, err := hex.DecodeString(ce.CBORHex)
	if err != nil {
		return upstream("Invalid operational certificate issue counter file")
	}
	counter, cold, err := decodeCounter(cb)
	if err != nil {
		return upstream("Invalid operational certificate issue counter file")
	}
	var ke envelope
	if err := readJSON(f["--kes-verification-key-file"][0], &ke); err != nil {
		return upstream("Invalid KES verification key file")
	}
	kb, err := hex.DecodeString(ke.CBORHex)
	if err != nil {
		return upstream("Invalid KES verification key file")
	}
	kesVK, err := decodeBytes32(kb)
	if err != nil {
		return upstream("Invalid KES verification key file")
	}
	period, err := strconv.ParseUint(f["--kes-period"][0], 10, 64)
	if err != nil {
		return fmt.Errorf("--kes-period %q is not a number", f["--kes-period"][0])
	}
	// The signing file whose public key is the counter's cold key gives
	// the path (findSigningPathForKey).
	var path []uint32
	for _, hw := range f["--hw-signing-file"] {
		var sf signingFile
		if err := readJSON(hw, &sf); err != nil {
			return upstream("Invalid file contents of hw-signing-file")
		}
		p, err := ParsePath(sf.Path)
		if err != nil {
			return upstream("Can not parse path")
		}
		if IsPoolColdKeyPath(p) && !strings.HasPrefix(sf.Type, "StakePool") {
			return upstream("Invalid file type of hw-signing-file")
		}
		xb, err := hex.DecodeString(sf.CBORXPubKeyHex)
		if err != nil {
			return upstream("Invalid file contents of hw-signing-file")
		}
		xpub, err := decodeXPub(xb)
		if err != nil {
			return upstream("Invalid file contents of hw-signing-file")
		}
		if bytes.Equal(xpub[:32], cold[:]) {
			path = p
			break
		}
	}
	if path == nil {
		return failed(errors.New("no signing file holds the counter file's cold key: the app gets no path"))
	}
	if !IsPoolColdKeyPath(path) {
		return failed(fmt.Errorf("%w: %s is not a pool cold key path", ErrRejected, FormatPath(path)))
	}
	if screen := getenv("HWDOUBLE_SCREEN"); screen != "" {
		lines := strings.Join(d.Screens(path, kesVK, period, counter), "\n") + "\n"
		sf, err := os.OpenFile(screen, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		_, werr := sf.WriteString(lines)
		if cerr := sf.Close(); werr != nil || cerr != nil {
			return errors.Join(werr, cerr)
		}
	}
	if getenv("HWDOUBLE_REJECT") == "1" {
		return rejected()
	}
	sig, err := d.SignOpCert(path, kesVK, period, counter)
	if err != nil {
		return failed(err)
	}
	// The cert's cold key is the counter file's (OpCertSigned), whatever
	// key the device signed with.
	if err := writeOutput(stdout, f["--out-file"][0], envelope{Type: "NodeOperationalCertificate",
		CBORHex: hex.EncodeToString(encodeCert(kesVK, counter, period, sig, cold))}); err != nil {
		return err
	}
	if counter == ^uint64(0) {
		return errors.New("the counter file's number has no successor")
	}
	return writeOutput(stdout, counterPath, counterFile(counter+1, cold))
}

// upstream is an error whose text is cardano-hw-cli's own (src/errors.ts),
// capitals and all.
type upstream string

func (e upstream) Error() string { return string(e) }

// failed is LedgerCryptoProvider's failedMsg around what the device or
// ledgerjs reported.
func failed(err error) error {
	return upstream("The requested operation failed. Check that your Ledger device is connected, unlocked and with Cardano app running.\nDetails: " + err.Error())
}

func rejected() error { return failed(upstream("DeviceStatusError: Action rejected by user")) }
