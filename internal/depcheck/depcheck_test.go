package depcheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/kesrotate/kesrotate"

// repoRoot is the module root, two folders above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test source")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// goTool is the go command: 'go test' puts the toolchain's bin folder
// first on PATH, so this is the go that is running the test.
func goTool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go tool not found on PATH: %v", err)
	}
	return p
}

// pkg is the part of 'go list -json' these checks read.
type pkg struct {
	ImportPath string
	Standard   bool
	Imports    []string
	Error      *struct{ Err string }
}

// listDeps returns every package the patterns build with (the patterns
// themselves included), keyed by import path. Test files are not included.
func listDeps(t *testing.T, patterns ...string) map[string]pkg {
	t.Helper()
	args := append([]string{"list", "-e", "-deps", "-json=ImportPath,Standard,Imports,Error"}, patterns...)
	cmd := exec.Command(goTool(t), args...)
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=readonly")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	pkgs := map[string]pkg{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("reading go list output: %v", err)
		}
		if p.Error != nil {
			t.Errorf("go list: %s: %s", p.ImportPath, p.Error.Err)
		}
		pkgs[p.ImportPath] = p
	}
	if len(pkgs) == 0 {
		t.Fatalf("go list %s: no packages", strings.Join(patterns, " "))
	}
	return pkgs
}

// importers returns the packages in pkgs that import path directly.
func importers(pkgs map[string]pkg, path string) []string {
	var out []string
	for _, p := range pkgs {
		if slices.Contains(p.Imports, path) {
			out = append(out, p.ImportPath)
		}
	}
	slices.Sort(out)
	return out
}

// coldBanned says why the cold binary must not link path, or "".
func coldBanned(path string) string {
	const gouroboros = "github.com/blinklabs-io/gouroboros"
	switch {
	case path == "net/http" || strings.HasPrefix(path, "net/http/"):
		return "HTTP client/server"
	case path == "crypto/tls":
		return "TLS"
	case path == "os/exec":
		return "runs other programs"
	case path == "net/rpc" || path == "net/smtp" || path == "plugin":
		return "network or code loading"
	case path == gouroboros || strings.HasPrefix(path, gouroboros+"/"):
		switch strings.TrimPrefix(path, gouroboros) {
		case "/kes", "/vrf", "/cbor":
			return ""
		}
		return "gouroboros beyond kes, vrf and cbor (networking, ledger, protocol)"
	case path == module+"/producer" || strings.HasPrefix(path, module+"/producer/"):
		return "the online producer side"
	case path == module+"/internal/cli/agent" || strings.HasPrefix(path, module+"/internal/cli/agent/"):
		return "the online agent's command line"
	case path == module+"/internal/hwdouble" || strings.HasPrefix(path, module+"/internal/hwdouble/"):
		return "the hardware-wallet test double"
	case usbPackage(path):
		return "USB or HID device access (kesrotate never drives a hardware wallet: cardano-hw-cli does)"
	}
	return ""
}

// usbElements are import path elements of USB and HID device libraries
// (google/gousb, karalabe/usb and karalabe/hid, zondax/hid, sstallion/go-hid,
// bearsh/hid, flynn/hid, libusb and hidapi bindings).
var usbElements = []string{"usb", "gousb", "libusb", "go-libusb", "hid", "go-hid", "hidapi", "hidraw", "usbhid", "webusb"}

func usbPackage(path string) bool {
	for _, el := range strings.Split(strings.ToLower(path), "/") {
		if slices.Contains(usbElements, el) {
			return true
		}
	}
	return false
}

// netAllowed are the only packages the cold binary may link that import
// the net package: pflag has IP-address flag types and so imports net for
// parsing; it never dials. Anything else importing net fails the test.
var netAllowed = []string{"github.com/spf13/pflag"}

func TestColdBinaryLinksNoNetwork(t *testing.T) {
	pkgs := listDeps(t, "./cmd/kesrotate")
	if _, ok := pkgs[module+"/cmd/kesrotate"]; !ok {
		t.Fatalf("go list did not report %s/cmd/kesrotate", module)
	}
	for path := range pkgs {
		if why := coldBanned(path); why != "" {
			t.Errorf("cmd/kesrotate links %s (%s), imported by %v", path, why, importers(pkgs, path))
		}
	}
	if _, ok := pkgs["net"]; ok {
		for _, imp := range importers(pkgs, "net") {
			if !slices.Contains(netAllowed, imp) {
				t.Errorf("cmd/kesrotate: %s imports net; only %v may", imp, netAllowed)
			}
		}
	}
}

// TestColdBanList makes sure the ban list itself bans what it should, so
// that TestColdBinaryLinksNoNetwork cannot pass by accident.
func TestColdBanList(t *testing.T) {
	for _, tc := range []struct {
		path   string
		banned bool
	}{
		{"net/http", true},
		{"net/http/httptrace", true},
		{"crypto/tls", true},
		{"os/exec", true},
		{"github.com/blinklabs-io/gouroboros", true},
		{"github.com/blinklabs-io/gouroboros/protocol", true},
		{"github.com/blinklabs-io/gouroboros/protocol/chainsync", true},
		{"github.com/blinklabs-io/gouroboros/connection", true},
		{"github.com/blinklabs-io/gouroboros/ledger", true},
		{"github.com/blinklabs-io/gouroboros/muxer", true},
		{"github.com/blinklabs-io/gouroboros/kes", false},
		{"github.com/blinklabs-io/gouroboros/vrf", false},
		{"github.com/blinklabs-io/gouroboros/cbor", false},
		{module + "/producer", true},
		{module + "/producer/agent", true},
		{module + "/producerx", false},
		{module + "/keys", false},
		{"net/url", false},
		{"crypto/ed25519", false},
		{module + "/internal/hwdouble", true},
		{module + "/internal/hwdouble/cmd/cardano-hw-cli", true},
		{"github.com/google/gousb", true},
		{"github.com/karalabe/usb", true},
		{"github.com/karalabe/hid", true},
		{"github.com/zondax/hid", true},
		{"github.com/sstallion/go-hid", true},
		{"github.com/example/hidden", false},
		{module + "/keys", false},
	} {
		t.Run(tc.path, func(t *testing.T) {
			if got := coldBanned(tc.path) != ""; got != tc.banned {
				t.Errorf("coldBanned(%q): got %v, want %v", tc.path, got, tc.banned)
			}
		})
	}
}

// processSymbols are the functions through which a Go program starts
// another program; os/exec is banned above, and these catch a direct call
// (os.StartProcess, syscall.ForkExec, syscall.Exec) the import list
// cannot show.
var processSymbols = []string{"os.StartProcess", "os.startProcess", "syscall.StartProcess", "syscall.ForkExec", "syscall.forkExec", "syscall.Exec"}

// TestColdBinaryCannotStartProcesses builds the cold binary as a release
// does and reads its symbol table: kesrotate prints the cardano-hw-cli
// command for the operator and never runs it, nor anything else.
func TestColdBinaryCannotStartProcesses(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "kesrotate")
	build := exec.Command(goTool(t), "build", "-trimpath", "-o", bin, "./cmd/kesrotate")
	build.Dir = repoRoot(t)
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=readonly")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/kesrotate: %v\n%s", err, out)
	}
	nm := exec.Command(goTool(t), "tool", "nm", bin)
	out, err := nm.Output()
	if err != nil {
		t.Fatalf("go tool nm: %v", err)
	}
	syms := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) >= 3 {
			syms[f[len(f)-1]] = true
		}
	}
	if !syms["main.main"] {
		t.Fatalf("no main.main among %d symbols: the symbol table was not read", len(syms))
	}
	for _, s := range processSymbols {
		if syms[s] {
			t.Errorf("cmd/kesrotate links %s: it could start another program", s)
		}
	}
	for s := range syms {
		if strings.HasPrefix(s, "os/exec.") {
			t.Errorf("cmd/kesrotate links %s", s)
		}
	}
}

// libraryRoots are the library packages: they never print, never exit and
// never depend on the command-line framework.
var libraryRoots = []string{"keys", "opcert", "plan", "transfer", "auditlog", "ceremony", "backup", "producer"}

func TestLibrariesDoNotImportCobra(t *testing.T) {
	root := repoRoot(t)
	var patterns []string
	for _, r := range libraryRoots {
		if fi, err := os.Stat(filepath.Join(root, r)); err == nil && fi.IsDir() {
			patterns = append(patterns, "./"+r+"/...")
		}
	}
	if len(patterns) < 3 {
		t.Fatalf("found library folders %v, want at least keys, opcert and ceremony", patterns)
	}
	pkgs := listDeps(t, patterns...)
	for path := range pkgs {
		if strings.HasPrefix(path, "github.com/spf13/cobra") || strings.HasPrefix(path, "github.com/spf13/pflag") {
			var from []string
			for _, imp := range importers(pkgs, path) {
				if strings.HasPrefix(imp, module+"/") {
					from = append(from, imp)
				}
			}
			t.Errorf("library packages link %s (directly from %v)", path, from)
		}
	}
}

// skeyAllowed reports whether a tracked signing-key file may live at path
// (slash-separated, relative to the repository root): only test data.
func skeyAllowed(path string) bool {
	if strings.HasPrefix(path, "testvectors/") {
		return true
	}
	return slices.Contains(strings.Split(path, "/")[:strings.Count(path, "/")], "testdata")
}

func TestNoSigningKeysTracked(t *testing.T) {
	git, err := exec.LookPath("git")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("git not found: %v", err)
		}
		t.Skipf("git not found, cannot list tracked files: %v", err)
	}
	cmd := exec.Command(git, "ls-files", "-z", "--", "*.skey", "*.skey.*")
	cmd.Dir = repoRoot(t)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("git ls-files: %v\n%s", err, stderr.String())
		}
		t.Skipf("not a git checkout, cannot list tracked files: %v %s", err, stderr.String())
	}
	for _, f := range strings.Split(string(out), "\x00") {
		if f != "" && !skeyAllowed(f) {
			t.Errorf("signing key %s is tracked outside testvectors/ and testdata/; remove it from git", f)
		}
	}
}

func TestSkeyAllowed(t *testing.T) {
	for _, tc := range []struct {
		path string
		want bool
	}{
		{"testvectors/cold.skey", true},
		{"testvectors/sub/kes.skey", true},
		{"internal/cli/cold/testdata/cold.skey", true},
		{"testdata/x.skey", true},
		{"cold.skey", false},
		{"keys/cold.skey", false},
		{"docs/testvectors/cold.skey", false},
		{"keys/testdata.skey", false},
		{"vault/pools/a/testdata", false},
	} {
		t.Run(tc.path, func(t *testing.T) {
			if got := skeyAllowed(tc.path); got != tc.want {
				t.Errorf("skeyAllowed(%q): got %v, want %v", tc.path, got, tc.want)
			}
		})
	}
}

// importRules are the layers (docs/architecture.md): for each library
// package (by path prefix, longest first), the module packages it may
// import. Anything else of the module — the command trees, the test node,
// the test doubles, a layer above — is refused.
var importRules = []struct {
	prefix string
	may    []string
}{
	{"keys", []string{"internal/textsafe"}},
	{"opcert", []string{"keys", "internal/textsafe"}},
	{"plan", []string{"opcert", "keys", "internal/promtext", "internal/textsafe", "internal/durfmt"}},
	{"transfer", []string{"keys", "opcert", "transfer/qr", "transfer/ur", "internal/safefile", "internal/textsafe", "internal/durfmt"}},
	{"auditlog", []string{"keys", "opcert", "internal/safefile", "internal/textsafe"}},
	{"ceremony", []string{"auditlog", "keys", "opcert", "plan", "transfer", "transfer/qr", "internal/safefile", "internal/textsafe", "internal/durfmt"}},
	{"backup", []string{"ceremony", "auditlog", "keys", "transfer/qr", "internal/safefile", "internal/textsafe"}},
	{"producer", []string{"auditlog", "keys", "opcert", "plan", "transfer", "transfer/qr", "producer/nodelog", "producer/nodequery",
		"internal/safefile", "internal/textsafe", "internal/durfmt", "internal/promtext"}},
}

// TestImportRules: each library imports only the layers below it; the
// cold side's vault (ceremony) and the producer's agent never import each
// other (they meet in transfer's files and auditlog's checkpoints); backup
// is above the vault (ceremony never imports it).
func TestImportRules(t *testing.T) {
	pkgs := listDeps(t, "./...")
	checked := 0
	for path, p := range pkgs {
		rel, ok := strings.CutPrefix(path, module+"/")
		if !ok || p.Standard {
			continue
		}
		rule := -1
		for i, r := range importRules {
			if (rel == r.prefix || strings.HasPrefix(rel, r.prefix+"/")) && (rule < 0 || len(r.prefix) > len(importRules[rule].prefix)) {
				rule = i
			}
		}
		if rule < 0 {
			continue // a command tree, a test tool or a shared internal package
		}
		checked++
		r := importRules[rule]
		for _, imp := range p.Imports {
			irel, ok := strings.CutPrefix(imp, module+"/")
			if !ok {
				continue
			}
			allowed := irel == r.prefix || strings.HasPrefix(irel, r.prefix+"/") // within its own tree
			for _, m := range r.may {
				allowed = allowed || irel == m
			}
			if !allowed {
				t.Errorf("%s imports %s: %s may import only %v", rel, irel, r.prefix, r.may)
			}
		}
	}
	if checked < 8 {
		t.Fatalf("checked %d library packages, want every one of keys, opcert, transfer, ceremony, producer and their subpackages", checked)
	}
}
