// Package systemddouble stands in for systemctl in tests: the few verbs
// the agent runs on a service (restart, start, stop, show -p … --value,
// is-active), on units defined by files in a folder, whose processes it
// starts detached and signals as systemd would.
//
// Written from systemd/systemd's sources: src/systemctl/systemctl-start-unit.c
// (the verbs restart/start/stop, "Failed to <verb> <unit>: <bus error
// message>" and, unless the unit is missing, "See system logs and
// 'systemctl status <unit>' for details."), src/systemctl/systemctl-is-active.c
// (prints the state; exit 0 when active, 3 when not, 4 when the unit does
// not exist), src/systemctl/systemctl-show.c (show -p NAME prints NAME=value,
// --value only the value; a unit that does not exist shows MainPID 0 and
// ActiveState inactive), and the bus errors "Unit <unit> not found." and
// "Interactive authentication required." (a user polkit does not let act,
// with --no-ask-password). A name without a suffix is a .service. When
// systemd is not the init system systemctl says "System has not been booted
// with systemd as init system (PID 1). Can't operate." and "Failed to
// connect to bus: Host is down".
//
// Where it is simpler than systemd: units are files
// $SYSTEMD_DOUBLE_DIR/NAME.service with a [Service] section of ExecStart=
// (words split at blanks; a command without a slash is looked up on the
// caller's PATH), EnvironmentFile= and Environment=; the service runs in
// the caller's environment plus those variables; its stdout and stderr are
// appended to NAME.service.journal; a service whose process is gone is
// "failed" unless systemctl stopped it (no exit codes, no Restart=); the
// file $SYSTEMD_DOUBLE_DIR/polkit-deny makes every start, stop and restart
// fail with "Interactive authentication required.".
package systemddouble

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Exit codes (systemctl: LSB for is-active; 5 for a missing unit).
const (
	exitNotRunning = 3
	exitUnknown    = 4
	exitNoUnit     = 5
)

// Main runs systemctl with args and returns its exit code.
func Main(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	dir := getenv("SYSTEMD_DOUBLE_DIR")
	if dir == "" {
		fmt.Fprintln(stderr, "System has not been booted with systemd as init system (PID 1). Can't operate.")
		fmt.Fprintln(stderr, "Failed to connect to bus: Host is down")
		return 1
	}
	var verb string
	var units, props []string
	value := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--no-ask-password", a == "--quiet", a == "-q", a == "--no-pager", a == "--system":
		case a == "--value":
			value = true
		case a == "-p" || a == "--property":
			if i+1 >= len(args) {
				fmt.Fprintf(stderr, "systemctl: option requires an argument -- '%s'\n", strings.TrimLeft(a, "-"))
				return 1
			}
			i++
			props = append(props, strings.Split(args[i], ",")...)
		case strings.HasPrefix(a, "--property="):
			props = append(props, strings.Split(strings.TrimPrefix(a, "--property="), ",")...)
		case strings.HasPrefix(a, "-"):
			fmt.Fprintf(stderr, "systemctl: unrecognized option '%s'\n", a)
			return 1
		case verb == "":
			verb = a
		default:
			units = append(units, unitName(a))
		}
	}
	sd := &systemd{dir: dir, getenv: getenv, stdout: stdout, stderr: stderr}
	switch verb {
	case "restart", "start", "stop":
		if len(units) == 0 {
			fmt.Fprintln(stderr, "Too few arguments.")
			return 1
		}
		for _, u := range units {
			if code := sd.job(verb, u); code != 0 {
				return code
			}
		}
		return 0
	case "show":
		for _, u := range units {
			sd.show(u, props, value)
		}
		return 0
	case "is-active":
		code := exitUnknown
		for _, u := range units {
			st := sd.state(u)
			fmt.Fprintln(stdout, st)
			switch {
			case st == "active":
				code = 0
			case code != 0 && sd.exists(u):
				code = exitNotRunning
			}
		}
		return code
	}
	fmt.Fprintf(stderr, "Unknown command verb '%s'.\n", verb)
	return 1
}

// unitName is unit_name_mangle: a name without a type suffix is a service.
func unitName(s string) string {
	for _, suf := range []string{".service", ".socket", ".target", ".timer", ".mount", ".path"} {
		if strings.HasSuffix(s, suf) {
			return s
		}
	}
	return s + ".service"
}

type systemd struct {
	dir            string
	getenv         func(string) string
	stdout, stderr io.Writer
}

func (s *systemd) file(u, ext string) string { return filepath.Join(s.dir, u+ext) }

func (s *systemd) exists(u string) bool {
	_, err := os.Stat(s.file(u, ""))
	return err == nil
}

// mainPID is the service's process, 0 when it has none.
func (s *systemd) mainPID(u string) int {
	b, err := os.ReadFile(s.file(u, ".pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid <= 0 || !alive(pid) || startedAfter(pid, s.file(u, ".pid")) {
		return 0
	}
	return pid
}

// startedAfter reports whether process pid started after file was written:
// then the service's process is gone and pid names another one (pids wrap
// around). systemd tracks its services' processes and never reports such
// a pid as MainPID; this double keeps a pid file, so it checks.
func startedAfter(pid int, file string) bool {
	fi, err := os.Stat(file)
	if err != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(stat), ')')
	f := strings.Fields(string(stat[i+1:]))
	if i < 0 || len(f) < 20 {
		return false
	}
	ticks, err := strconv.ParseInt(f[19], 10, 64)
	if err != nil {
		return false
	}
	sys, err := os.ReadFile("/proc/stat")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(sys), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			boot, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return false
			}
			started := time.Unix(boot, 0).Add(time.Duration(ticks) * 10 * time.Millisecond) // USER_HZ = 100
			return started.After(fi.ModTime().Add(2 * time.Second))
		}
	}
	return false
}

// alive reports whether pid runs (a zombie does not).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	if i := strings.LastIndexByte(string(b), ')'); i >= 0 && i+2 < len(b) {
		return b[i+2] != 'Z'
	}
	return true
}

func (s *systemd) state(u string) string {
	switch {
	case !s.exists(u):
		return "inactive"
	case s.mainPID(u) > 0:
		return "active"
	}
	if _, err := os.Stat(s.file(u, ".pid")); err == nil {
		return "failed" // it was started and its process is gone
	}
	return "inactive"
}

func (s *systemd) show(u string, props []string, value bool) {
	for _, p := range props {
		var v string
		switch p {
		case "MainPID":
			v = strconv.Itoa(s.mainPID(u))
		case "ActiveState":
			v = s.state(u)
		case "SubState":
			v = map[string]string{"active": "running", "failed": "failed", "inactive": "dead"}[s.state(u)]
		case "LoadState":
			v = "loaded"
			if !s.exists(u) {
				v = "not-found"
			}
		case "Id":
			v = u
		}
		if value {
			fmt.Fprintln(s.stdout, v)
		} else {
			fmt.Fprintf(s.stdout, "%s=%s\n", p, v)
		}
	}
}

func (s *systemd) fail(verb, u, msg string, see bool) int {
	fmt.Fprintf(s.stderr, "Failed to %s %s: %s\n", verb, u, msg)
	if see {
		fmt.Fprintf(s.stderr, "See system logs and 'systemctl status %s' for details.\n", u)
	}
	return 1
}

func (s *systemd) job(verb, u string) int {
	if !s.exists(u) {
		fmt.Fprintf(s.stderr, "Failed to %s %s: Unit %s not found.\n", verb, u, u)
		return exitNoUnit
	}
	if _, err := os.Stat(filepath.Join(s.dir, "polkit-deny")); err == nil {
		return s.fail(verb, u, "Interactive authentication required.", true)
	}
	if verb == "stop" || verb == "restart" {
		s.stop(u)
	}
	if verb == "start" && s.mainPID(u) > 0 {
		return 0
	}
	if verb == "start" || verb == "restart" {
		if err := s.start(u); err != nil {
			// Type=simple: the job fails only when the process cannot
			// be started at all.
			fmt.Fprintf(s.stderr, "Job for %s failed because of unavailable resources or another system error.\n", u)
			fmt.Fprintf(s.stderr, "See \"systemctl status %s\" and \"journalctl -xeu %s\" for details.\n", u, u)
			return 1
		}
	}
	return 0
}

// stop sends SIGTERM, waits for the process to go, then SIGKILL.
func (s *systemd) stop(u string) {
	pid := s.mainPID(u)
	if pid > 0 {
		_ = syscall.Kill(pid, syscall.SIGTERM)
		deadline := time.Now().Add(10 * time.Second)
		for alive(pid) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if alive(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			for alive(pid) {
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	_ = os.Remove(s.file(u, ".pid"))
}

// unit is the [Service] section of a unit file.
type unit struct {
	execStart []string
	envFiles  []string
	env       []string
}

func (s *systemd) load(u string) (*unit, error) {
	f, err := os.Open(s.file(u, ""))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := &unit{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
			continue
		case strings.HasPrefix(line, "["):
			section = line
			continue
		case section != "[Service]":
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		switch strings.TrimSpace(k) {
		case "ExecStart":
			out.execStart = strings.Fields(v)
		case "EnvironmentFile":
			out.envFiles = append(out.envFiles, strings.TrimSpace(v))
		case "Environment":
			out.env = append(out.env, strings.Fields(v)...)
		}
	}
	if len(out.execStart) == 0 {
		return nil, errors.New("no ExecStart")
	}
	return out, sc.Err()
}

func (s *systemd) start(u string) error {
	un, err := s.load(u)
	if err != nil {
		return err
	}
	env := os.Environ()
	env = append(env, un.env...)
	for _, ef := range un.envFiles {
		optional := strings.HasPrefix(ef, "-")
		vars, err := ReadEnvironmentFile(strings.TrimPrefix(ef, "-"))
		if err != nil && !optional {
			return err
		}
		env = append(env, vars...)
	}
	bin := un.execStart[0]
	if !strings.Contains(bin, "/") {
		if bin, err = exec.LookPath(bin); err != nil {
			return err
		}
	}
	log, err := os.OpenFile(s.file(u, ".journal"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command(bin, un.execStart[1:]...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	pid := cmd.Process.Pid
	_ = cmd.Process.Release()
	return os.WriteFile(s.file(u, ".pid"), []byte(strconv.Itoa(pid)+"\n"), 0o644)
}

// ReadEnvironmentFile reads an EnvironmentFile as systemd.exec(5) says:
// KEY=VALUE lines, "#" and ";" comments, values optionally in single or
// double quotes (with backslash escapes in double quotes), a trailing
// backslash continuing the line.
func ReadEnvironmentFile(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	text := strings.ReplaceAll(string(b), "\\\n", "")
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		out = append(out, strings.TrimSpace(k)+"="+unquote(strings.TrimSpace(v)))
	}
	return out, nil
}

func unquote(v string) string {
	if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
		return v[1 : len(v)-1]
	}
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		var b strings.Builder
		in := v[1 : len(v)-1]
		for i := 0; i < len(in); i++ {
			if in[i] == '\\' && i+1 < len(in) {
				i++
			}
			b.WriteByte(in[i])
		}
		return b.String()
	}
	return v
}
