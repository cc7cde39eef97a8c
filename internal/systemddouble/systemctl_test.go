package systemddouble

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Sources: systemd/systemd src/systemctl/systemctl-start-unit.c,
// systemctl-is-active.c, systemctl-show.c (see the package doc).

func run(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(args, func(k string) string {
		if k == "SYSTEMD_DOUBLE_DIR" {
			return dir
		}
		return ""
	}, &out, &errb)
	return out.String(), errb.String(), code
}

func unitDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	env := filepath.Join(dir, "sleeper.env")
	if err := os.WriteFile(env, []byte("# the sleeper\nA=1\nB=\"two words\"\n; comment\nC='x'\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	unit := "[Unit]\nDescription=sleeps\n\n[Service]\nExecStart=/bin/sleep 1000\nEnvironmentFile=" + env + "\n"
	if err := os.WriteFile(filepath.Join(dir, "sleeper.service"), []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { run(t, dir, "stop", "sleeper") })
	return dir
}

func mainPID(t *testing.T, dir string) int {
	t.Helper()
	out, _, _ := run(t, dir, "show", "-p", "MainPID", "--value", "sleeper")
	pid, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("show MainPID: %q", out)
	}
	return pid
}

// systemctl-start-unit.c: restart stops the old process and starts a new
// one; show and is-active report it.
func TestRestartShowIsActive(t *testing.T) {
	dir := unitDir(t)
	if out, _, code := run(t, dir, "is-active", "sleeper"); out != "inactive\n" || code != exitNotRunning {
		t.Errorf("before start: %q exit %d", out, code)
	}
	if _, errOut, code := run(t, dir, "--no-ask-password", "restart", "sleeper"); code != 0 {
		t.Fatalf("restart: exit %d %s", code, errOut)
	}
	first := mainPID(t, dir)
	if first <= 0 {
		t.Fatalf("MainPID %d", first)
	}
	if out, _, code := run(t, dir, "is-active", "sleeper.service"); out != "active\n" || code != 0 {
		t.Errorf("after start: %q exit %d", out, code)
	}
	run(t, dir, "restart", "sleeper")
	if second := mainPID(t, dir); second <= 0 || second == first || alive(first) {
		t.Errorf("restart: MainPID %d → %d (old alive %v)", first, second, alive(first))
	}
	if out, _, _ := run(t, dir, "show", "-p", "ActiveState,SubState", "sleeper"); out != "ActiveState=active\nSubState=running\n" {
		t.Errorf("show without --value: %q", out)
	}
	run(t, dir, "stop", "sleeper")
	if out, _, code := run(t, dir, "show", "-p", "MainPID", "--value", "sleeper"); out != "0\n" || code != 0 {
		t.Errorf("after stop: %q", out)
	}
}

// The bus errors: a unit that does not exist, and polkit's refusal.
func TestRefusals(t *testing.T) {
	dir := unitDir(t)
	_, errOut, code := run(t, dir, "restart", "nosuch")
	if code != exitNoUnit || errOut != "Failed to restart nosuch.service: Unit nosuch.service not found.\n" {
		t.Errorf("missing unit: exit %d %q", code, errOut)
	}
	if out, _, code := run(t, dir, "is-active", "nosuch"); out != "inactive\n" || code != exitUnknown {
		t.Errorf("is-active of a missing unit: %q exit %d", out, code)
	}
	if out, _, _ := run(t, dir, "show", "-p", "MainPID", "--value", "nosuch"); out != "0\n" {
		t.Errorf("show of a missing unit: %q", out)
	}
	if err := os.WriteFile(filepath.Join(dir, "polkit-deny"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code = run(t, dir, "--no-ask-password", "restart", "sleeper")
	want := "Failed to restart sleeper.service: Interactive authentication required.\nSee system logs and 'systemctl status sleeper.service' for details.\n"
	if code != 1 || errOut != want {
		t.Errorf("polkit: exit %d %q", code, errOut)
	}
	_, errOut, code = run(t, "", "restart", "sleeper")
	if code != 1 || !strings.HasPrefix(errOut, "System has not been booted with systemd as init system (PID 1). Can't operate.\n") {
		t.Errorf("without systemd: exit %d %q", code, errOut)
	}
}

// systemd.exec(5) EnvironmentFile syntax.
func TestEnvironmentFile(t *testing.T) {
	dir := unitDir(t)
	vars, err := ReadEnvironmentFile(filepath.Join(dir, "sleeper.env"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(vars, "|"); got != "A=1|B=two words|C=x" {
		t.Errorf("got %q", got)
	}
}
