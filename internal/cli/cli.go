// Package cli holds what both binaries' command lines share: the
// environment a command runs in, the one-line error plus hint convention,
// exit codes, --now and --json. The commands themselves live in
// internal/cli/cold (kesrotate) and internal/cli/agent (kesrotate-agent) so
// that the cold binary links nothing of the online side.
package cli

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kesrotate/kesrotate/internal/safefile"
	"github.com/kesrotate/kesrotate/internal/textsafe"
)

// Exit codes shared by both binaries. plan adds its own (see its help).
const (
	ExitOK    = 0
	ExitError = 1
	ExitUsage = 2
)

// Env is what a command may touch of the outside world. Tests build one
// with buffers, a fixed clock and a fixed random source.
type Env struct {
	Prog   string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Rand   io.Reader
	Getenv func(string) string

	// Set by the global flags before a command runs.
	NowFlag string
	JSON    bool

	// Outputs declares the one type each command prints with --json;
	// PrintJSON refuses any other. command is the path of the command
	// running (set by Run).
	Outputs Outputs
	command string
}

// NewEnv returns the environment of a real process.
func NewEnv(prog string, stdin io.Reader, stdout, stderr io.Writer) *Env {
	return &Env{Prog: prog, Stdin: stdin, Stdout: stdout, Stderr: stderr, Rand: rand.Reader, Getenv: os.Getenv}
}

// Now is the clock: --now when given, else the system clock, in UTC.
func (e *Env) Now() (time.Time, error) {
	if e.NowFlag == "" {
		return time.Now().UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, e.NowFlag)
	if err != nil {
		return time.Time{}, Usage(fmt.Errorf("--now %q is not an RFC 3339 time", e.NowFlag), "write it like 2026-11-21T09:30:00Z")
	}
	return t.UTC(), nil
}

// Warn prints a warning line on stderr. Control and formatting characters
// (from a file's name or content) are shown escaped.
func (e *Env) Warn(format string, args ...any) {
	fmt.Fprintf(e.Stderr, "%s: warning: %s\n", e.Prog, textsafe.Escape(fmt.Sprintf(format, args...)))
}

// Info prints progress chatter on stderr (results go to stdout).
func (e *Env) Info(format string, args ...any) {
	fmt.Fprintf(e.Stderr, format+"\n", args...)
}

// PrintJSON writes v as indented JSON on stdout. v must be of the type the
// running command declared in Outputs: one command, one shape, and the
// shape is the one docs/formats.md documents.
func (e *Env) PrintJSON(v any) error {
	want, ok := e.Outputs[e.command]
	if !ok {
		return fmt.Errorf("internal error: %q declares no JSON output", e.command)
	}
	if got := reflect.TypeOf(v); got != reflect.TypeOf(want) && got != reflect.PointerTo(reflect.TypeOf(want)) {
		return fmt.Errorf("internal error: %q prints %s as JSON, but declares %T", e.command, got, want)
	}
	enc := json.NewEncoder(e.Stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// Error is an error with what to do about it and the exit code to use.
type Error struct {
	Err   error
	Hints []string
	Code  int
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Hint wraps err with hints; exit code 1.
func Hint(err error, hints ...string) error {
	if err == nil {
		return nil
	}
	return &Error{Err: err, Hints: hints, Code: ExitError}
}

// Usage wraps err as a usage error; exit code 2.
func Usage(err error, hints ...string) error {
	return &Error{Err: err, Hints: hints, Code: ExitUsage}
}

// Exit is an error that carries only an exit code: the command has printed
// what it had to say (plan's warn/critical codes use it).
type Exit struct{ Code int }

func (e *Exit) Error() string { return fmt.Sprintf("exit %d", e.Code) }

// Run executes root with args and turns the result into an exit code,
// printing one "prog: error: …" line and its "prog: hint: …" lines.
func Run(env *Env, root *cobra.Command, args []string) int {
	root.SetArgs(args)
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	root.SilenceErrors = true
	root.SilenceUsage = true
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return Usage(err, fmt.Sprintf("run '%s --help' for the flags", c.CommandPath()))
	})
	// cobra adds these at Execute; added now, their usage errors are
	// marked like every other command's.
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd(args...)
	requireKnownSubcommands(root)
	useCanonicalFlagNames(root)
	trackCommand(env, root)
	markUsageErrors(root)
	err := root.Execute()
	if err == nil {
		return ExitOK
	}
	var ex *Exit
	if errors.As(err, &ex) {
		return ex.Code
	}
	code := ExitError
	var hints []string
	var ce *Error
	if errors.As(err, &ce) {
		code = ce.Code
		hints = ce.Hints
	}
	// A refusal by the file system gets a hint wherever it surfaced.
	if errors.Is(err, fs.ErrPermission) && !mentions(hints, "permission") {
		hints = append(hints, "permission denied: run as the user that owns the file or folder, or change its permissions (ls -l shows them)")
	}
	// One line each, and nothing in them that changes how the terminal
	// shows them (text from files reaches errors).
	msg := textsafe.Escape(strings.ReplaceAll(err.Error(), "\n", "; "))
	fmt.Fprintf(env.Stderr, "%s: error: %s\n", env.Prog, msg)
	for _, h := range hints {
		fmt.Fprintf(env.Stderr, "%s: hint: %s\n", env.Prog, textsafe.Escape(strings.ReplaceAll(h, "\n", "; ")))
	}
	return code
}

// requireKnownSubcommands makes a command that only groups subcommands
// refuse an argument that names none of them: cobra prints the help and
// exits 0 for "kesrotate pool shwo", so a typo looked like success.
func requireKnownSubcommands(c *cobra.Command) {
	for _, sub := range c.Commands() {
		requireKnownSubcommands(sub)
	}
	if !c.HasSubCommands() || c.Run != nil || c.RunE != nil {
		return
	}
	c.Args = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath())
		if c.SuggestionsMinimumDistance <= 0 {
			c.SuggestionsMinimumDistance = 2
		}
		if s := c.SuggestionsFor(args[0]); len(s) > 0 {
			msg += fmt.Sprintf(" (did you mean %q?)", s[0])
		}
		return Usage(errors.New(msg), fmt.Sprintf("run '%s --help' for its commands", c.CommandPath()))
	}
	c.RunE = func(c *cobra.Command, args []string) error { return c.Help() }
}

// trackCommand makes every command record its path in env before it runs,
// for PrintJSON.
func trackCommand(env *Env, c *cobra.Command) {
	for _, sub := range c.Commands() {
		trackCommand(env, sub)
	}
	if run := c.RunE; run != nil {
		c.RunE = func(c *cobra.Command, args []string) error {
			env.command = c.CommandPath()
			return run(c, args)
		}
	}
	if run := c.Run; run != nil {
		c.Run = func(c *cobra.Command, args []string) {
			env.command = c.CommandPath()
			run(c, args)
		}
	}
}

// markUsageErrors marks cobra's own usage errors where they arise, so
// that an error is a usage error (exit 2, a --help hint) because of where
// it came from, never because of its text: a library or I/O error that
// happens to say "invalid argument" (EINVAL) or "accepts " is exit 1.
// Cobra (v1.10.2 command.go, (*Command).execute) reports usage errors from
// four places before RunE starts: flag parsing (FlagErrorFunc, set in Run),
// the positional-argument validator (c.Args, wrapped here), and
// ValidateRequiredFlags and ValidateFlagGroups, which it runs after PreRunE:
// the PreRunE installed here runs them first and marks their failures, so
// cobra's own second run of them finds nothing. Find's legacyArgs (an
// unknown command under a root without Args) cannot fire: a root with
// subcommands gets Args here if requireKnownSubcommands gave it none.
func markUsageErrors(c *cobra.Command) {
	for _, sub := range c.Commands() {
		markUsageErrors(sub)
	}
	if c.Args == nil && !c.HasParent() && c.HasSubCommands() {
		c.Args = cobra.NoArgs // what Find's legacyArgs checks for a root
	}
	if c.Args != nil {
		c.Args = Args(c.Args)
	}
	if !c.Runnable() {
		return
	}
	pre, preE := c.PreRun, c.PreRunE
	c.PreRun = nil
	c.PreRunE = func(c *cobra.Command, args []string) error {
		switch {
		case preE != nil:
			if err := preE(c, args); err != nil {
				return err
			}
		case pre != nil:
			pre(c, args)
		}
		hint := fmt.Sprintf("run '%s --help' for the flags", c.CommandPath())
		if err := c.ValidateRequiredFlags(); err != nil {
			return Usage(err, hint)
		}
		if err := c.ValidateFlagGroups(); err != nil {
			return Usage(err, hint)
		}
		return nil
	}
}

// Args wraps a cobra positional-argument validator so its failures are
// usage errors with a hint; an error the validator already made a *Error
// keeps its own code and hints.
func Args(v cobra.PositionalArgs) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if err := v(c, args); err != nil {
			var ce *Error
			if errors.As(err, &ce) {
				return err
			}
			return Usage(err, fmt.Sprintf("usage: %s", c.UseLine()))
		}
		return nil
	}
}

// AddGlobalFlags registers --now and --json on root.
func AddGlobalFlags(root *cobra.Command, env *Env) {
	root.PersistentFlags().StringVar(&env.NowFlag, "now", "", "use this RFC 3339 time instead of the clock (tests, rehearsals)")
	root.PersistentFlags().BoolVar(&env.JSON, "json", false, "print machine-readable JSON on stdout")
}

// MaxInputFile bounds the files the commands read as input: keys, certs,
// transfer files, images and logs are far smaller.
const MaxInputFile = 64 << 20

// ReadInput reads a file given on the command line. It refuses anything
// but a regular file (a FIFO or a device would block or never end) and
// anything larger than MaxInputFile (safefile.ReadRegular, the one reader
// of input files both binaries and the transfer library share); flag names
// the option in messages, and hints, if given, replace the default "check
// the path" hint.
func ReadInput(path, flag string, hints ...string) ([]byte, error) {
	if len(hints) == 0 {
		hints = []string{fmt.Sprintf("check the path given to %s", flag)}
	}
	b, err := safefile.ReadRegular(path, MaxInputFile)
	if errors.Is(err, safefile.ErrNotRegular) {
		return nil, Hint(fmt.Errorf("%s: %s is not a regular file", flag, path), hints...)
	}
	if err != nil {
		return nil, Hint(fmt.Errorf("%s: %w", flag, err), hints...)
	}
	return b, nil
}

func mentions(hints []string, word string) bool {
	for _, h := range hints {
		if strings.Contains(strings.ToLower(h), word) {
			return true
		}
	}
	return false
}
