package testnode

// The node's log, in the three line formats an operator meets:
//
//   - new tracing, human (trace-dispatcher "Stdout HumanFormatColoured";
//     cardano-node 10.6.4 trace-dispatcher/src/Cardano/Logging/Formatter.hs,
//     humanFormatter'): the prefix "[%F %H:%M:%S%4QZ][host:namespace]
//     (Severity,thread)" coloured by severity (Error and worse 31, Warning
//     33, Notice 35, Info 34, Debug none: colorBySeverity), a space, then
//     forHuman's text (or {"data": forMachine} when it has none). %4Q always
//     prints four decimals (haskell/time: showPaddedFixedFraction pads to
//     the width), so 12:00:00.1000 and not 12:00:00.1;
//   - new tracing, machine ("Stdout MachineFormat", machineFormatter'; the
//     JSON of Types/TraceMessage.hs in toEncoding order): {"at", "ns",
//     "data", "sev", "thread", "host"}. "at" is aeson's UTCTime with the
//     fraction in groups of three digits and no trailing zero group
//     (text-iso8601 Data/Time/ToText.hs buildTimeOfDay); "data" is the
//     forMachine object, whose keys aeson 2 writes in sorted order (KeyMap
//     is a Data.Map);
//   - legacy (iohk-monitoring, Cardano/BM/Backend/Log.lhs formatItem for the
//     StdoutSK text scribe, which colours): "[host:logger:Severity:thread]"
//     coloured like the above, a space, "[%F %T%2Q %Z]", a space, the text.
//
// Severities and filtering: each message has the severity its tracer gives
// it (severityFor in the new system, getSeverityAnnotation in the legacy
// one); a message is written when its severity is at least the configured
// one for the longest configured namespace prefix, else the root's.
// "Silence" writes nothing.

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Severity is a log severity, Debug (lowest) to Emergency, or Silence.
type Severity int

// Severities in order (trace-dispatcher SeverityS; iohk-monitoring
// Severity), and Silence, which passes nothing.
const (
	Debug Severity = iota
	Info
	Notice
	Warning
	Error
	Critical
	Alert
	Emergency
	Silence
)

var severityNames = [...]string{"Debug", "Info", "Notice", "Warning", "Error", "Critical", "Alert", "Emergency", "Silence"}

func (s Severity) String() string {
	if s < 0 || int(s) >= len(severityNames) {
		return fmt.Sprintf("Severity(%d)", int(s))
	}
	return severityNames[s]
}

// ParseSeverity reads a severity name as the node's configuration spells
// it ("Notice", "Silence"; case-insensitive).
func ParseSeverity(s string) (Severity, error) {
	for i, n := range severityNames {
		if strings.EqualFold(n, s) {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("%w: unknown severity %q", ErrConfig, s)
}

// ShippedTraceOptions are the per-namespace severities of the
// mainnet-config.json that cardano-node 10.6.4 and 11.0.1 ship (root
// severity Notice); the new-tracing test node starts from them.
func ShippedTraceOptions() map[string]Severity {
	return map[string]Severity{
		"BlockFetch.Decision": Info,
		"ChainDB":             Info,
		"ChainDB.AddBlockEvent.AddBlockValidation": Silence,
		"ChainDB.LedgerEvent.Forker":               Silence,
		"ChainSync.Client":                         Warning,
		"Forge.Loop":                               Info,
		"Forge.StateInfo":                          Info,
		"Mempool":                                  Silence,
		"Mempool.AttemptAdd":                       Silence,
		"Mempool.SyncNotNeeded":                    Silence,
		"Net.ConnectionManager.Remote":             Info,
		"Net.InboundGovernor":                      Warning,
		"Net.InboundGovernor.Remote":               Info,
		"Net.Mux.Remote":                           Info,
		"Net.PeerSelection":                        Info,
		"Resources":                                Silence,
		"Startup.DiffusionInit":                    Info,
	}
}

// Root severities of the shipped configurations: mainnet-config.json of
// 10.6.4/11.0.1 ("TraceOptions" "" "severity": "Notice") and
// mainnet-config-legacy.json ("minSeverity": "Info").
const (
	ShippedSeverity       = Notice
	ShippedLegacySeverity = Info
)

// logEvent is one traced message, with what each system makes of it.
type logEvent struct {
	ns        string   // trace-dispatcher namespace, "Startup.BlockForgingUpdate"
	legacyNS  string   // iohk-monitoring logger name, "cardano.node.startup"; "" if the legacy system does not log it
	sev       Severity // severity in the new system
	legacySev Severity // severity in the legacy system
	human     string   // forHuman (new) and formatText (legacy) text
	legacy    string   // the legacy line's text when it is not human
	data      jsonObject
	thread    int
	plain     string // a line written to stdout as it is, before logging is set up
}

// jsonObject is a forMachine object; keys are written sorted.
type jsonObject map[string]any

// tracer writes log lines.
type tracer struct {
	mu      sync.Mutex
	system  string
	format  string
	host    string
	root    Severity
	options map[string]Severity
	w       io.Writer
	path    string
	f       *os.File
	now     func() time.Time
}

func (t *tracer) passes(ev logEvent) bool {
	ns, sev := ev.ns, ev.sev
	if t.system == TracingLegacy {
		if ev.legacyNS == "" {
			return false
		}
		ns, sev = ev.legacyNS, ev.legacySev
	}
	limit := t.root
	best := -1
	for k, s := range t.options {
		if (ns == k || strings.HasPrefix(ns, k+".")) && len(k) > best {
			best, limit = len(k), s
		}
	}
	return limit != Silence && sev >= limit
}

// emit formats and writes one event if the filter lets it through.
func (t *tracer) emit(ev logEvent) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var line string
	if ev.plain != "" {
		line = ev.plain + "\n"
	} else {
		if !t.passes(ev) {
			return
		}
		line = t.format1(ev, t.now().UTC())
	}
	t.writeLocked(line)
}

func (t *tracer) writeLocked(line string) {
	if t.f != nil {
		_, _ = io.WriteString(t.f, line)
		return
	}
	if t.w != nil {
		_, _ = io.WriteString(t.w, line)
	}
}

func (t *tracer) format1(ev logEvent, now time.Time) string {
	switch t.format {
	case LogJSON:
		return jsonLine(ev, now, t.host)
	case LogLegacy:
		head := colourBySeverity(ev.legacySev, fmt.Sprintf("[%s:%s:%s:%d]", t.host, ev.legacyNS, ev.legacySev, ev.thread))
		text := ev.human
		if ev.legacy != "" {
			text = ev.legacy
		}
		return head + " [" + legacyTime(now) + "] " + text + "\n"
	}
	pre := colourBySeverity(ev.sev, fmt.Sprintf("[%s][%s:%s](%s,%d)", humanTime(now), t.host, ev.ns, ev.sev, ev.thread))
	text := ev.human
	if text == "" {
		text = `{"data":` + encodeJSON(ev.data) + `}`
	}
	return pre + " " + text + "\n"
}

func colourBySeverity(s Severity, msg string) string {
	var c string
	switch {
	case s >= Error:
		c = "31"
	case s == Warning:
		c = "33"
	case s == Notice:
		c = "35"
	case s == Info:
		c = "34"
	default:
		return msg
	}
	return "\x1b[" + c + "m" + msg + "\x1b[0m"
}

// humanTime is formatTime "%F %H:%M:%S%4QZ": four decimals, truncated.
func humanTime(t time.Time) string {
	return t.Format("2006-01-02 15:04:05") + fmt.Sprintf(".%04d", t.Nanosecond()/100000) + "Z"
}

// legacyTime is formatTime "%F %T%2Q %Z": two decimals, truncated.
func legacyTime(t time.Time) string {
	return t.Format("2006-01-02 15:04:05") + fmt.Sprintf(".%02d", t.Nanosecond()/10000000) + " UTC"
}

// aesonTime is aeson's UTCTime: no fraction when whole, else 3, 6 or 9
// digits (the clock has nanoseconds).
func aesonTime(t time.Time) string {
	s := t.Format("2006-01-02T15:04:05")
	ns := t.Nanosecond()
	switch {
	case ns == 0:
	case ns%1000000 == 0:
		s += fmt.Sprintf(".%03d", ns/1000000)
	case ns%1000 == 0:
		s += fmt.Sprintf(".%06d", ns/1000)
	default:
		s += fmt.Sprintf(".%09d", ns)
	}
	return s + "Z"
}

func jsonLine(ev logEvent, now time.Time, host string) string {
	var b strings.Builder
	b.WriteString(`{"at":`)
	b.WriteString(jsonString(aesonTime(now)))
	b.WriteString(`,"ns":`)
	b.WriteString(jsonString(ev.ns))
	b.WriteString(`,"data":`)
	b.WriteString(encodeJSON(ev.data))
	b.WriteString(`,"sev":`)
	b.WriteString(jsonString(ev.sev.String()))
	b.WriteString(`,"thread":`)
	b.WriteString(jsonString(strconv.Itoa(ev.thread)))
	b.WriteString(`,"host":`)
	b.WriteString(jsonString(host))
	b.WriteString("}\n")
	return b.String()
}

// encodeJSON writes a value as aeson does: objects with sorted keys,
// strings escaped only where JSON requires.
func encodeJSON(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case jsonObject:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = jsonString(k) + ":" + encodeJSON(v[k])
		}
		return "{" + strings.Join(parts, ",") + "}"
	case []any:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = encodeJSON(x)
		}
		return "[" + strings.Join(parts, ",") + "]"
	case string:
		return jsonString(v)
	case bool:
		return strconv.FormatBool(v)
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case uint64:
		return strconv.FormatUint(v, 10)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// jsonString escapes like aeson: ", \ and control characters; not <, >, &.
func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if r < 0x20 {
				fmt.Fprintf(&b, `\u%04x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// openFile opens the log file for appending.
func (t *tracer) openFile() error {
	f, err := os.OpenFile(t.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("log file: %w", err)
	}
	t.f = f
	return nil
}

// rotate moves the log file behind its path as logrotate (or
// cardano-tracer's rotator) does: path.N becomes path.N+1, path becomes
// path.1, and a new file is opened at path.
func (t *tracer) rotate() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.path == "" {
		return fmt.Errorf("%w: the node logs to a writer, not a file", ErrConfig)
	}
	var rotated []int
	for i := 1; ; i++ {
		if _, err := os.Lstat(fmt.Sprintf("%s.%d", t.path, i)); err != nil {
			break
		}
		rotated = append(rotated, i)
	}
	slices.Reverse(rotated)
	for _, i := range rotated {
		if err := os.Rename(fmt.Sprintf("%s.%d", t.path, i), fmt.Sprintf("%s.%d", t.path, i+1)); err != nil {
			return fmt.Errorf("rotating the log: %w", err)
		}
	}
	if err := os.Rename(t.path, t.path+".1"); err != nil {
		return fmt.Errorf("rotating the log: %w", err)
	}
	old := t.f
	if err := t.openFile(); err != nil {
		return err
	}
	return old.Close()
}

func (t *tracer) close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.f != nil {
		err := t.f.Close()
		t.f = nil
		return err
	}
	return nil
}
