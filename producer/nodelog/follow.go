package nodelog

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Journal is the NodeLog setting that reads the systemd journal instead of
// a file: "journald" (the unit the agent signals) or "journald:UNIT".
const Journal = "journald"

// A Reader returns the events logged since it was opened.
type Reader interface {
	// Read returns the events that arrived since the last Read.
	Read(ctx context.Context) ([]Event, error)
	Close() error
}

// Open starts reading the node's log from now: source is a file path, or
// "journald[:UNIT]" with defaultUnit used when no unit is named.
func Open(source, defaultUnit string, now time.Time) (Reader, error) {
	if unit, ok := JournalUnit(source, defaultUnit); ok {
		if unit == "" {
			return nil, fmt.Errorf("%w: reading the journal needs a unit: journald:UNIT", ErrSource)
		}
		r := &journalReader{unit: unit, since: now}
		if err := r.mark(); err != nil {
			return nil, err
		}
		return r, nil
	}
	return OpenFile(source)
}

// JournalUnit reports whether source names the journal, and which unit.
func JournalUnit(source, defaultUnit string) (string, bool) {
	if source == Journal {
		return defaultUnit, true
	}
	if unit, ok := strings.CutPrefix(source, Journal+":"); ok {
		return unit, true
	}
	return "", false
}

// ErrSource: the log source cannot be read.
var ErrSource = errors.New("cannot read the node log")

// maxChunk bounds one Read of a file.
const maxChunk = 16 << 20

// fileReader follows a log file from the position it had when opened. It
// keeps the file open, so a file renamed away (logrotate, cardano-tracer)
// is read to its end before the new file at the path is read from its
// start; a file truncated in place (copytruncate) is read again from 0.
type fileReader struct {
	path string
	f    *os.File
	off  int64
	part []byte // an unterminated last line
}

// OpenFile follows the log file at path from its current end. A file that
// does not exist yet is read from its start once it appears.
func OpenFile(path string) (Reader, error) {
	r := &fileReader{path: path}
	f, err := os.Open(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return r, nil
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrSource, err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("%w: %w", ErrSource, err)
	}
	if !fi.Mode().IsRegular() {
		_ = f.Close()
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrSource, path)
	}
	r.f, r.off = f, fi.Size()
	return r, nil
}

func (r *fileReader) Read(context.Context) ([]Event, error) {
	var events []Event
	if r.f != nil {
		// Truncated in place: start again.
		if fi, err := r.f.Stat(); err == nil && fi.Size() < r.off {
			r.off, r.part = 0, nil
		}
		events = append(events, r.drain()...)
	}
	// Rotated: the path now names another file. What the old one still
	// held was read above; the new one is read from its start.
	fi, err := os.Stat(r.path)
	if err != nil {
		return events, nil // rotated away and not recreated yet
	}
	if r.f != nil {
		if old, err := r.f.Stat(); err == nil && os.SameFile(old, fi) {
			return events, nil
		}
		_ = r.f.Close()
		r.f = nil
	}
	f, err := os.Open(r.path)
	if err != nil {
		return events, nil
	}
	r.f, r.off, r.part = f, 0, nil
	return append(events, r.drain()...), nil
}

// drain reads from the offset to the end and parses complete lines.
func (r *fileReader) drain() []Event {
	if _, err := r.f.Seek(r.off, io.SeekStart); err != nil {
		return nil
	}
	b, _ := io.ReadAll(io.LimitReader(r.f, maxChunk))
	r.off += int64(len(b))
	data := append(r.part, b...)
	cut := bytes.LastIndexByte(data, '\n')
	if cut < 0 {
		r.part = data
		return nil
	}
	r.part = append([]byte(nil), data[cut+1:]...)
	return parseLines(data[:cut+1])
}

func (r *fileReader) Close() error {
	if r.f != nil {
		return r.f.Close()
	}
	return nil
}

func parseLines(b []byte) []Event {
	var events []Event
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if e, ok := ParseLine(sc.Text()); ok {
			events = append(events, e)
		}
	}
	return events
}

// Journalctl is the journalctl command the journal reader runs.
var Journalctl = "journalctl"

// journalReader reads the unit's journal entries logged after it was
// opened, with `journalctl --unit U --output json` (systemd's
// journalctl(1)): it notes the cursor of the unit's last entry when opened
// (--lines 1) and reads --after-cursor from there; a unit without entries
// yet is read --since the opening time.
type journalReader struct {
	unit   string
	since  time.Time
	cursor string
	marked bool // cursor came from the opening: everything after it is new
}

// journalEntry is one line of journalctl --output json. MESSAGE is a
// string, or an array of byte values when it holds non-printable bytes
// (the node's coloured output does), or null.
type journalEntry struct {
	Cursor   string          `json:"__CURSOR"`
	Realtime string          `json:"__REALTIME_TIMESTAMP"` // µs since the epoch
	Message  json.RawMessage `json:"MESSAGE"`
}

// mark notes the cursor of the unit's newest entry.
func (r *journalReader) mark() error {
	out, err := r.run(context.Background(), "--lines", "1")
	if err != nil {
		return err
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		var e journalEntry
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.Cursor != "" {
			r.cursor, r.marked = e.Cursor, true
		}
	}
	return nil
}

func (r *journalReader) run(ctx context.Context, extra ...string) ([]byte, error) {
	args := append([]string{"--unit", r.unit, "--output", "json", "--no-pager", "--quiet"}, extra...)
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cctx, Journalctl, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		var ee *exec.Error
		if errors.As(err, &ee) && errors.Is(ee.Err, exec.ErrNotFound) {
			msg = "journalctl is not installed"
		}
		return nil, fmt.Errorf("%w: journalctl --unit %s: %s", ErrSource, r.unit, sanitize(msg))
	}
	return out, nil
}

func (r *journalReader) Read(ctx context.Context) ([]Event, error) {
	lines, err := r.readLines(ctx)
	if err != nil {
		return nil, err
	}
	var events []Event
	for _, line := range lines {
		if ev, ok := ParseLine(line); ok {
			events = append(events, ev)
		}
	}
	return events, nil
}

// JournalLines follows one unit's journal as raw message lines, for a
// service whose lines are not the node's (the Mithril signer).
type JournalLines struct{ r *journalReader }

// OpenJournalLines starts reading unit's journal from now on.
func OpenJournalLines(unit string, now time.Time) (*JournalLines, error) {
	r := &journalReader{unit: unit, since: now}
	if err := r.mark(); err != nil {
		return nil, err
	}
	return &JournalLines{r: r}, nil
}

// Read returns the lines logged since the last Read.
func (j *JournalLines) Read(ctx context.Context) ([]string, error) { return j.r.readLines(ctx) }

// readLines returns the message lines of the entries since the last read.
func (r *journalReader) readLines(ctx context.Context) ([]string, error) {
	var out []byte
	var err error
	if r.cursor != "" {
		out, err = r.run(ctx, "--after-cursor", r.cursor)
	} else {
		out, err = r.run(ctx, "--since", "@"+strconv.FormatInt(r.since.Unix(), 10))
	}
	if err != nil {
		return nil, err
	}
	sinceMicro := r.since.UnixMicro()
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		var e journalEntry
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			continue
		}
		if e.Cursor != "" {
			r.cursor = e.Cursor
		}
		// Without a cursor from the opening, entries stamped before it
		// are old (--since has whole seconds only).
		if t, err := strconv.ParseInt(e.Realtime, 10, 64); !r.marked && err == nil && t < sinceMicro {
			continue
		}
		lines = append(lines, strings.Split(journalMessage(e.Message), "\n")...)
	}
	return lines, nil
}

func journalMessage(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var b []byte
	var nums []int
	if json.Unmarshal(raw, &nums) == nil {
		for _, n := range nums {
			b = append(b, byte(n))
		}
	}
	return string(b)
}

func (r *journalReader) Close() error { return nil }
