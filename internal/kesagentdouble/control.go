package kesagentdouble

// kes-agent-control's command line (kes-agent/cli/ControlMain.hs).

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// DefaultControlPath is defaultControlSocketPath.
const DefaultControlPath = "/tmp/kes-agent-control.socket"

// Envelope types and descriptions (Serialization/CBOR.hs).
const (
	envKESVKey     = "KesVerificationKey_ed25519_kes_2^6"
	descKESVKey    = "KES verification"
	envOpCert      = "NodeOperationalCertificate"
	envColdVKey    = "StakePoolVerificationKey_ed25519"
	controlVersion = "kes-agent-control " + Version
)

const usageText = `Usage: kes-agent-control [-c|--control-address ADDR] [-v|--verbose ARG] 
                         [--retry-interval|--retry-delay ARG] 
                         [--retry-exponential] [--retry-attempts ARG] 
                         [--version] COMMAND`

// ControlMain runs kes-agent-control with args and returns its exit code.
func ControlMain(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	var (
		control, vkeyFile, opcertFile string
		controlSet, vkeySet, certSet  bool
		cmd                           string
	)
	usageErr := func(msg string) int {
		fmt.Fprintf(stderr, "%s\n\n%s\n", msg, usageText)
		return 1
	}
	value := func(i *int, name string) (string, bool) {
		if *i+1 >= len(args) {
			return "", false
		}
		*i++
		return args[*i], true
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, inline, hasInline := strings.Cut(a, "=")
		if !strings.HasPrefix(a, "--") {
			name, hasInline = a, false
		}
		get := func() (string, bool) {
			if hasInline {
				return inline, true
			}
			return value(&i, name)
		}
		switch name {
		case "-c", "--control-address":
			v, ok := get()
			if !ok {
				return usageErr(fmt.Sprintf("The option `%s` expects an argument.", name))
			}
			control, controlSet = v, true
		case "-v", "--verbose", "--retry-interval", "--retry-delay", "--retry-attempts":
			v, ok := get()
			if !ok {
				return usageErr(fmt.Sprintf("The option `%s` expects an argument.", name))
			}
			if _, err := strconv.Atoi(v); err != nil {
				return usageErr(fmt.Sprintf("option %s: cannot parse value `%s'", name, v))
			}
		case "--retry-exponential":
		case "--version":
			fmt.Fprintln(stdout, controlVersion)
			return 0
		case "-h", "--help":
			fmt.Fprintln(stdout, usageText)
			return 0
		case "--kes-verification-key-file":
			if cmd != "gen-staged-key" && cmd != "export-staged-vkey" {
				return usageErr(fmt.Sprintf("Invalid option `%s'", name))
			}
			v, ok := get()
			if !ok {
				return usageErr(fmt.Sprintf("The option `%s` expects an argument.", name))
			}
			vkeyFile, vkeySet = v, true
		case "--opcert-file":
			if cmd != "install-key" {
				return usageErr(fmt.Sprintf("Invalid option `%s'", name))
			}
			v, ok := get()
			if !ok {
				return usageErr(fmt.Sprintf("The option `%s` expects an argument.", name))
			}
			opcertFile, certSet = v, true
		default:
			switch {
			case strings.HasPrefix(a, "-"):
				return usageErr(fmt.Sprintf("Invalid option `%s'", a))
			case cmd != "":
				return usageErr(fmt.Sprintf("Invalid argument `%s'", a))
			}
			switch a {
			case "gen-staged-key", "drop-staged-key", "export-staged-vkey", "install-key", "drop-key", "info":
				cmd = a
			default:
				return usageErr(fmt.Sprintf("Invalid argument `%s'", a))
			}
		}
	}
	if cmd == "" {
		return usageErr("Missing: COMMAND")
	}
	// --control-address, else $KES_AGENT_CONTROL_PATH, else the default.
	if !controlSet {
		control = getenv("KES_AGENT_CONTROL_PATH")
	}
	if control == "" && !controlSet {
		control = DefaultControlPath
	}
	if !vkeySet {
		vkeyFile = "kes.vkey"
	}
	if !certSet {
		opcertFile = "kes.vkey" // defInstallKeyOptions, as upstream has it
	}
	c := &controlClient{path: control, stderr: stderr}
	switch cmd {
	case "gen-staged-key":
		fmt.Fprintln(stdout, "Asking agent to generate a key...")
		r, code := c.call(request{Op: "gen-staged-key"})
		if code != 0 {
			return code
		}
		if r.VKey == "" {
			fmt.Fprintln(stdout, "Key generation has failed. Please check KES agent log for details.")
			return 0
		}
		fmt.Fprintln(stdout, "KES SignKey generated.")
		return writeVKey(vkeyFile, r.VKey, stdout, stderr)
	case "export-staged-vkey":
		r, code := c.call(request{Op: "export-staged-vkey"})
		if code != 0 {
			return code
		}
		if r.VKey == "" {
			fmt.Fprintln(stdout, "No key available.")
			return 0
		}
		return writeVKey(vkeyFile, r.VKey, stdout, stderr)
	case "drop-staged-key":
		if _, code := c.call(request{Op: "drop-staged-key"}); code != 0 {
			return code
		}
		fmt.Fprintln(stdout, "Staged key dropped.")
		return 0
	case "install-key":
		oc, msg, code := readOpCertFile(opcertFile, stderr)
		if code != 0 {
			return code
		}
		if msg != "" {
			fmt.Fprintln(stdout, "Error: "+msg)
			return 0 // a file that does not decode is reported, and the exit is 0
		}
		w := wireOCert(oc)
		r, code := c.call(request{Op: "install-key", OCert: &w})
		if code != 0 {
			return code
		}
		res := RecvErrorUnknown
		if r.Result != nil {
			res = RecvResult(*r.Result)
		}
		if res == RecvOK {
			fmt.Fprintln(stdout, "KES key installed.")
			return 0
		}
		fmt.Fprintln(stdout, "Error: "+res.Reason())
		return int(res)
	case "drop-key":
		r, code := c.call(request{Op: "drop-key"})
		if code != 0 {
			return code
		}
		if r.Result != nil && RecvResult(*r.Result) == RecvOK {
			fmt.Fprintln(stdout, "KES key dropped.")
			return 0
		}
		res := RecvErrorUnknown
		if r.Result != nil {
			res = RecvResult(*r.Result)
		}
		fmt.Fprintf(stdout, "KES key not dropped:\n%s\n", res)
		return 0
	}
	r, code := c.call(request{Op: "info"})
	if code != 0 {
		return code
	}
	if r.Info == nil {
		fmt.Fprintln(stderr, "kes-agent-control: Protocol handshake failed (control)")
		return 1
	}
	printInfo(stdout, control, r.Info)
	return 0
}

type controlClient struct {
	path   string
	stderr io.Writer
}

// call connects and exchanges one request. A connection that fails is
// GHC's uncaught IOException from Network.Socket.connect, exit 1.
func (c *controlClient) call(req request) (response, int) {
	conn, err := net.DialTimeout("unix", c.path, 5*time.Second)
	if err != nil {
		fmt.Fprintf(c.stderr, "kes-agent-control: Network.Socket.connect: <socket: 3>: %s\n", ioErrorText(err))
		return response{}, 1
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		fmt.Fprintf(c.stderr, "kes-agent-control: %v\n", err)
		return response{}, 1
	}
	var resp response
	if err := json.NewDecoder(conn).Decode(&resp); err != nil {
		fmt.Fprintln(c.stderr, "kes-agent-control: Protocol handshake failed (control)")
		return response{}, 1
	}
	return resp, 0
}

// ioErrorText is GHC's rendering of the errno of a failed connect: "does
// not exist (No such file or directory)", "permission denied (Permission
// denied)", "resource exhausted (Connection refused)"…
func ioErrorText(err error) string {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return "failed (" + err.Error() + ")"
	}
	desc := errno.Error()
	desc = strings.ToUpper(desc[:1]) + desc[1:]
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "does not exist (" + desc + ")"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied (" + desc + ")"
	case errno == syscall.ECONNREFUSED:
		return "resource exhausted (" + desc + ")"
	}
	return "failed (" + desc + ")"
}

// vkeyEnvelope is the vkey file as encodeTextEnvelopeFile writes it:
// aeson's compact encoding, keys in order, no newline.
func vkeyEnvelope(vkHex string) []byte {
	return []byte(fmt.Sprintf(`{"cborHex":"5820%s","description":%q,"type":%q}`, vkHex, descKESVKey, envKESVKey))
}

func writeVKey(path, vkHex string, stdout, stderr io.Writer) int {
	if path == "-" {
		fmt.Fprintf(stdout, "%s\n", vkeyEnvelope(vkHex))
		return 0
	}
	if err := os.WriteFile(path, vkeyEnvelope(vkHex), 0o644); err != nil {
		fmt.Fprintf(stderr, "kes-agent-control: %s: withBinaryFile: %s\n", path, ioErrorText(err))
		return 1
	}
	fmt.Fprintf(stdout, "KES VerKey written to %s\n", path)
	return 0
}

// readOpCertFile is decodeTextEnvelopeFile of an OpCert. A file that cannot
// be read is an uncaught exception (exit 1); one that does not decode
// gives the message runInstallKey prints after "Error: ".
func readOpCertFile(path string, stderr io.Writer) (OCert, string, int) {
	data, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(stderr, "kes-agent-control: %s: withBinaryFile: %s\n", path, ioErrorText(err))
		return OCert{}, "", 1
	}
	oc, _, msg := DecodeOpCertEnvelope(data)
	return oc, msg, 0
}

// DecodeOpCertEnvelope decodes an op cert TextEnvelope the way kes-agent
// does (type first, then the CBOR ((vk, n, c0, sigma), cold vk)) and
// returns the cert, the cold key it names and, on failure, the message.
func DecodeOpCertEnvelope(data []byte) (OCert, [32]byte, string) {
	var te struct {
		Type        *string `json:"type"`
		Description *string `json:"description"`
		CBORHex     *string `json:"cborHex"`
	}
	if err := json.Unmarshal(data, &te); err != nil {
		return OCert{}, [32]byte{}, "Error in $: " + err.Error()
	}
	for _, f := range []struct {
		k string
		v *string
	}{{"type", te.Type}, {"description", te.Description}, {"cborHex", te.CBORHex}} {
		if f.v == nil {
			return OCert{}, [32]byte{}, fmt.Sprintf("Error in $: parsing TextEnvelope failed, key %q not found", f.k)
		}
	}
	raw, err := hex.DecodeString(*te.CBORHex)
	if err != nil {
		return OCert{}, [32]byte{}, "Error in $.cborHex: " + err.Error()
	}
	if *te.Type != envOpCert {
		return OCert{}, [32]byte{}, "Unexpected text envelope type, expected " + envOpCert + ", but found " + *te.Type
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
		return OCert{}, [32]byte{}, "DeserialiseFailure 0 \"OpCert\""
	}
	var oc OCert
	copy(oc.VKHot[:], v.Cert.VK)
	copy(oc.Sigma[:], v.Cert.Sigma)
	oc.N, oc.KESPeriod = v.Cert.N, v.Cert.C0
	var cold [32]byte
	copy(cold[:], v.Cold)
	return oc, cold, ""
}

// ParseColdVKey reads the agent's --cold-verification-key file.
func ParseColdVKey(data []byte) ([]byte, error) {
	var te struct {
		Type    string `json:"type"`
		CBORHex string `json:"cborHex"`
	}
	if err := json.Unmarshal(data, &te); err != nil {
		return nil, upstream(fmt.Sprintf("Error in $: %v", err))
	}
	if te.Type != envColdVKey {
		return nil, upstream(fmt.Sprintf("Unexpected text envelope type, expected %s, but found %s", envColdVKey, te.Type))
	}
	raw, err := hex.DecodeString(te.CBORHex)
	if err != nil {
		return nil, upstream(fmt.Sprintf("Error in $.cborHex: %v", err))
	}
	var vk []byte
	if err := cbor.Unmarshal(raw, &vk); err != nil || len(vk) != 32 {
		return nil, upstream("DeserialiseFailure 0 \"VerKeyDSIGN\"")
	}
	return vk, nil
}

// showUTC is the Show of a UTCTime: "2026-11-21 06:00:00.5 UTC", the
// fraction without trailing zeros and none for whole seconds.
func showUTC(t time.Time) string {
	t = t.UTC()
	s := t.Format("2006-01-02 15:04:05")
	if ns := t.Nanosecond(); ns != 0 {
		s += strings.TrimRight(fmt.Sprintf(".%09d", ns), "0")
	}
	return s + " UTC"
}

// printInfo is runGetInfo's output, without colours (stdout is not a
// terminal): a deleted key prints "{KEY DELETED}" without a newline.
func printInfo(w io.Writer, control string, in *wireInfo) {
	fmt.Fprintln(w, "--- Agent ---")
	fmt.Fprintf(w, "Agent version: %s\n", Version)
	fmt.Fprintf(w, "Connected via: %s\n", control)
	fmt.Fprintf(w, "Current time: %s\n", showUTC(in.Now))
	fmt.Fprintf(w, "Current KES period: %d\n", in.Period)
	fmt.Fprintf(w, "Current KES period started: %s\n", showUTC(in.PeriodStart))
	fmt.Fprintf(w, "Next KES period starts: %s\n", showUTC(in.PeriodEnd))
	if b := in.Bundle; b != nil {
		fmt.Fprintln(w, "--- Installed KES SignKey ---")
		fmt.Fprintf(w, "Timestamp: %s\n", showUTC(b.Timestamp))
		if b.Deleted {
			fmt.Fprint(w, "{KEY DELETED}")
		} else {
			fmt.Fprintf(w, "VerKey: %s\n", b.VK)
			fmt.Fprintf(w, "Valid from period: %d\n", b.Start)
			fmt.Fprintf(w, "Current evolution: %d / %d\n", b.Evolution, kesPeriods)
			fmt.Fprintf(w, "OpCert number: %d\n", b.N)
			fmt.Fprintf(w, "OpCert signature: %s\n", b.Sigma)
		}
	}
	if in.StagedVKey != "" {
		fmt.Fprintln(w, "--- Staged KES SignKey ---")
		fmt.Fprintf(w, "VerKey: %s\n", in.StagedVKey)
	}
	if len(in.Bootstrap) > 0 {
		fmt.Fprintln(w, "--- Bootstrap Peers ---")
		for _, p := range in.Bootstrap {
			fmt.Fprintf(w, "%30s: %s\n", p, "down")
		}
	}
}
