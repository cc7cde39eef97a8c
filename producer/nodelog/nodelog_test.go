package nodelog

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Lines as cardano-node writes them (sources in the package doc). Human:
// trace-dispatcher's "[%F %H:%M:%S%4QZ][host:NS](Sev,thread) " prefix,
// coloured by severity (Info blue 34, Notice magenta 35, Error red 31).
// JSON: TraceMessage {at, ns, data, sev, thread, host}. Legacy:
// iohk-monitoring's "[host:ns:Sev:thread] [time UTC] ".
const (
	humanEnabled = "\x1b[34m[2026-08-25 12:00:00.1234Z][bp1:Startup.BlockForgingUpdate](Info,57)\x1b[0m " +
		"Performing block forging reconfiguration: Enabling block forging. To disable it please move/rename/remove the credentials files and then trigger reconfiguration via SIGHUP signal."
	humanDisabled = "\x1b[34m[2026-08-25 12:00:00.1234Z][bp1:Startup.BlockForgingUpdate](Info,57)\x1b[0m " +
		"Performing block forging reconfiguration: Disabling block forging, to enable it please make the credentials files available again and then re-trigger reconfiguration via SIGHUP signal."
	humanError = "\x1b[31m[2026-08-25 12:00:00.1234Z][bp1:Startup.BlockForgingUpdateError](Error,57)\x1b[0m " +
		"Block forging reconfiguration error: CardanoProtocolInstantiationPraosLeaderCredentialsError (MismatchedKesKey \"/keys/kes.skey\" \"/keys/node.cert\")"
	humanTopology = "\x1b[35m[2026-08-25 12:00:00.1300Z][bp1:Startup.NetworkConfigUpdate](Notice,57)\x1b[0m Performing topology configuration update"
	humanKES      = "\x1b[34m[2026-08-25 12:00:01.0001Z][bp1:Forge.StateInfo](Info,88)\x1b[0m KES info startPeriod  812 currPeriod 815 endPeriod 874, 59 KES periods until expiry."
	humanNotEff   = "\x1b[34m[2026-08-25 12:00:00.1234Z][bp1:Startup.BlockForgingUpdate](Info,57)\x1b[0m Performing block forging reconfiguration: Changing block forging is not effective until consensus has started. "
	humanStateErr = "\x1b[31m[2026-08-25 12:00:01.0001Z][bp1:Forge.Loop.ForgeStateUpdateError](Critical,88)\x1b[0m Updating the forge state in slot 170000000 failed because: KESCouldNotEvolve (KESInfo {kesStartPeriod = KESPeriod 700, kesEndPeriod = KESPeriod 762, kesEvolution = 61}) (KESPeriod 815)"

	jsonEnabled  = `{"at":"2026-08-25T12:00:00.123456Z","ns":"Startup.BlockForgingUpdate","data":{"enabled":"EnabledBlockForging","kind":"BlockForgingUpdate"},"sev":"Info","thread":"57","host":"bp1"}`
	jsonDisabled = `{"at":"2026-08-25T12:00:00.123456Z","ns":"Startup.BlockForgingUpdate","data":{"enabled":"DisabledBlockForging","kind":"BlockForgingUpdate"},"sev":"Info","thread":"57","host":"bp1"}`
	jsonNotEff   = `{"at":"2026-08-25T12:00:00.123456Z","ns":"Startup.BlockForgingUpdate","data":{"enabled":"NotEffective","kind":"BlockForgingUpdate"},"sev":"Info","thread":"57","host":"bp1"}`
	jsonError    = `{"at":"2026-08-25T12:00:00.123456Z","ns":"Startup.BlockForgingUpdateError","data":{"error":"CardanoProtocolInstantiationPraosLeaderCredentialsError (MismatchedKesKey \"/keys/kes.skey\" \"/keys/node.cert\")","kind":"BlockForgingUpdateError"},"sev":"Error","thread":"57","host":"bp1"}`
	jsonTopology = `{"at":"2026-08-25T12:00:00.13Z","ns":"Startup.NetworkConfigUpdate","data":{"kind":"NetworkConfigUpdate","message":"network configuration update"},"sev":"Notice","thread":"57","host":"bp1"}`
	// KESInfo.hs: "endPeriod" carries the current period, "evolution" the end.
	jsonKES     = `{"at":"2026-08-25T12:00:01Z","ns":"Forge.StateInfo","data":{"endPeriod":815,"evolution":874,"kind":"KESInfo","startPeriod":812},"sev":"Info","thread":"88","host":"bp1"}`
	jsonCannot  = `{"at":"2026-08-25T12:00:01Z","ns":"Forge.Loop.NodeCannotForge","data":{"kind":"TraceNodeCannotForge","reason":"PraosCannotForgeKeyNotUsableYet (KESPeriod 815) (KESPeriod 820)","slot":170000123},"sev":"Error","thread":"88","host":"bp1"}`
	jsonUnknown = `{"at":"2026-08-25T12:00:01Z","ns":"ChainDB.AddBlockEvent","data":{"kind":"AddedToCurrentChain"},"sev":"Notice","thread":"8","host":"bp1"}`

	legacyEnabled  = "[bp1:cardano.node.startup:Info:57] [2026-08-25 12:00:00.12 UTC] Performing block forging reconfiguration: Enabling block forging. To disable it please move/rename/remove the credentials files and then trigger reconfiguration via SIGHUP signal."
	legacyError    = "[bp1:cardano.node.startup:Info:57] [2026-08-25 12:00:00.12 UTC] Block forging reconfiguration error: CardanoProtocolInstantiationPraosLeaderCredentialsError (FileError (FileIOError \"/keys/kes.skey\" permission denied))"
	legacyTopology = "[bp1:cardano.node.startup:Notice:57] [2026-08-25 12:00:00.13 UTC] Performing topology configuration update"
	legacyKES      = "[bp1:cardano.node.Forge:Info:88] [2026-08-25 12:00:01.00 UTC] TraceLabelCreds \"shelley\" (KESInfo {kesStartPeriod = KESPeriod {unKESPeriod = 812}, kesEndPeriod = KESPeriod {unKESPeriod = 874}, kesEvolution = 3})"
)

func u(n uint64) *uint64 { return &n }

func TestParseLine(t *testing.T) {
	mismatch := `CardanoProtocolInstantiationPraosLeaderCredentialsError (MismatchedKesKey "/keys/kes.skey" "/keys/node.cert")`
	tests := []struct {
		name    string
		line    string
		kind    Kind
		format  string
		message string
		kes     [3]*uint64
	}{
		{"human enabled", humanEnabled, Enabled, FormatHuman, "", [3]*uint64{}},
		{"human disabled", humanDisabled, Disabled, FormatHuman, "", [3]*uint64{}},
		{"human not effective", humanNotEff, NotEffective, FormatHuman, "", [3]*uint64{}},
		{"human error", humanError, ReloadError, FormatHuman, mismatch, [3]*uint64{}},
		{"human topology", humanTopology, TopologyUpdate, FormatHuman, "", [3]*uint64{}},
		{"human KES info", humanKES, KESInfo, FormatHuman, "", [3]*uint64{u(812), u(815), u(874)}},
		{"human forge state error", humanStateErr, ForgeStateError, FormatHuman, "", [3]*uint64{}},
		{"json enabled", jsonEnabled, Enabled, FormatJSON, "", [3]*uint64{}},
		{"json disabled", jsonDisabled, Disabled, FormatJSON, "", [3]*uint64{}},
		{"json not effective", jsonNotEff, NotEffective, FormatJSON, "", [3]*uint64{}},
		{"json error", jsonError, ReloadError, FormatJSON, mismatch, [3]*uint64{}},
		{"json topology", jsonTopology, TopologyUpdate, FormatJSON, "", [3]*uint64{}},
		{"json KES info (mislabelled fields)", jsonKES, KESInfo, FormatJSON, "", [3]*uint64{u(812), u(815), u(874)}},
		{"json cannot forge", jsonCannot, CannotForge, FormatJSON, "PraosCannotForgeKeyNotUsableYet (KESPeriod 815) (KESPeriod 820)", [3]*uint64{}},
		{"legacy enabled", legacyEnabled, Enabled, FormatLegacy, "", [3]*uint64{}},
		{"legacy error (no BlockForgingUpdateError word)", legacyError, ReloadError, FormatLegacy,
			`CardanoProtocolInstantiationPraosLeaderCredentialsError (FileError (FileIOError "/keys/kes.skey" permission denied))`, [3]*uint64{}},
		{"legacy topology", legacyTopology, TopologyUpdate, FormatLegacy, "", [3]*uint64{}},
		{"legacy KES info (Haskell show)", legacyKES, KESInfo, FormatLegacy, "", [3]*uint64{u(812), u(815), u(874)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, ok := ParseLine(tt.line)
			if !ok || e.Kind != tt.kind || e.Format != tt.format {
				t.Fatalf("got %v %q ok=%v, want %v %q", e.Kind, e.Format, ok, tt.kind, tt.format)
			}
			if tt.message != "" && e.Message != tt.message {
				t.Errorf("got message %q, want %q", e.Message, tt.message)
			}
			// Only a read the file system refused is Denied.
			if want := tt.kind == ReloadError && strings.Contains(tt.line, "permission denied"); e.Denied != want {
				t.Errorf("got Denied %v, want %v", e.Denied, want)
			}
			for i, p := range [3]*uint64{e.Start, e.Current, e.End} {
				if w := tt.kes[i]; (w == nil) != (p == nil) || (w != nil && *w != *p) {
					t.Errorf("KES field %d: got %v, want %v", i, show(p), show(w))
				}
			}
		})
	}
	for _, line := range []string{jsonUnknown, "", "Block forging is not reconfigured.", "{not json", "[bp1:cardano.node.ChainDB:Notice:8] [t] Chain extended"} {
		if e, ok := ParseLine(line); ok {
			t.Errorf("ParseLine(%q) = %v, want nothing", line, e.Kind)
		}
	}
}

func show(p *uint64) string {
	if p == nil {
		return "nil"
	}
	return fmt.Sprint(*p)
}

func TestMessagesAreSanitised(t *testing.T) {
	e, ok := ParseLine("[bp1:cardano.node.startup:Info:57] [t UTC] Block forging reconfiguration error: evil\u202e\x07text")
	if !ok || e.Message != "evil??text" {
		t.Errorf("got %q, want control and bidi characters replaced", e.Message)
	}
}

func appendFile(t *testing.T, path string, lines ...string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lines {
		if _, err := f.WriteString(l + "\n"); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func kinds(es []Event) []Kind {
	var out []Kind
	for _, e := range es {
		out = append(out, e.Kind)
	}
	return out
}

func eq(a, b []Kind) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

func TestFollowFile(t *testing.T) {
	ctx := context.Background()
	t.Run("only what comes after opening", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "node.log")
		appendFile(t, path, humanEnabled)
		r, err := OpenFile(path)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		appendFile(t, path, humanTopology)
		got, _ := r.Read(ctx)
		if want := []Kind{TopologyUpdate}; !eq(kinds(got), want) {
			t.Errorf("got %v, want %v", kinds(got), want)
		}
	})
	t.Run("a partial line waits for its end", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "node.log")
		appendFile(t, path)
		r, _ := OpenFile(path)
		defer r.Close()
		f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		_, _ = f.WriteString(jsonEnabled[:40])
		got, _ := r.Read(ctx)
		_, _ = f.WriteString(jsonEnabled[40:] + "\n")
		_ = f.Close()
		got2, _ := r.Read(ctx)
		if len(got) != 0 || !eq(kinds(got2), []Kind{Enabled}) {
			t.Errorf("got %v then %v, want nothing then [forging enabled]", kinds(got), kinds(got2))
		}
	})
	t.Run("rotated behind its path", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "node.log")
		appendFile(t, path, "old line")
		r, _ := OpenFile(path)
		defer r.Close()
		// The node writes one more line to the old file, the rotator
		// renames it away, the node continues in a new file.
		appendFile(t, path, humanEnabled)
		if err := os.Rename(path, path+".1"); err != nil {
			t.Fatal(err)
		}
		appendFile(t, path, humanTopology, humanKES)
		got, _ := r.Read(ctx)
		if want := []Kind{Enabled, TopologyUpdate, KESInfo}; !eq(kinds(got), want) {
			t.Errorf("got %v, want %v", kinds(got), want)
		}
	})
	t.Run("truncated in place", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "node.log")
		appendFile(t, path, strings.Repeat("x", 500))
		r, _ := OpenFile(path)
		defer r.Close()
		if err := os.Truncate(path, 0); err != nil {
			t.Fatal(err)
		}
		appendFile(t, path, legacyError)
		got, _ := r.Read(ctx)
		if want := []Kind{ReloadError}; !eq(kinds(got), want) {
			t.Errorf("got %v, want %v", kinds(got), want)
		}
	})
	t.Run("a file that appears later", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "node.log")
		r, err := OpenFile(path)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if got, _ := r.Read(ctx); len(got) != 0 {
			t.Errorf("got %v from no file", kinds(got))
		}
		appendFile(t, path, jsonTopology)
		got, _ := r.Read(ctx)
		if want := []Kind{TopologyUpdate}; !eq(kinds(got), want) {
			t.Errorf("got %v, want %v", kinds(got), want)
		}
	})
	t.Run("not a regular file", func(t *testing.T) {
		if _, err := OpenFile(t.TempDir()); err == nil {
			t.Errorf("got no error for a folder")
		}
	})
}

// fakeJournalctl is a stand-in for journalctl(1) over a file of entries in
// its --output json form (one object per line, __CURSOR,
// __REALTIME_TIMESTAMP in µs, MESSAGE a string or an array of byte values
// when it holds non-printable bytes). It honours --since @SECONDS and
// --after-cursor, the two options the reader uses, and checks --unit.
const fakeJournalctl = `#!/bin/sh
unit= since= after= lines=
while [ $# -gt 0 ]; do
  case $1 in
    --unit) unit=$2; shift;;
    --lines) lines=$2; shift;;
    --since) since=${2#@}; shift;;
    --after-cursor) after=$2; shift;;
    --output|--no-pager|--quiet|json) ;;
  esac
  shift
done
[ "$unit" = cardano-node ] || { echo "No entries for unit $unit" >&2; exit 1; }
[ -f "$JOURNAL" ] || exit 0
if [ -n "$lines" ]; then tail -n "$lines" "$JOURNAL"; exit 0; fi
seen=
[ -z "$after" ] && seen=1
while IFS= read -r line; do
  cur=$(printf '%s' "$line" | sed 's/.*"__CURSOR":"\([^"]*\)".*/\1/')
  ts=$(printf '%s' "$line" | sed 's/.*"__REALTIME_TIMESTAMP":"\([0-9]*\)".*/\1/')
  if [ -n "$seen" ]; then
    if [ -z "$since" ] || [ "$ts" -ge "$((since*1000000))" ]; then printf '%s\n' "$line"; fi
  fi
  [ "$cur" = "$after" ] && seen=1
done < "$JOURNAL"
exit 0
`

func journalLine(cursor string, at time.Time, msg string) string {
	m := fmt.Sprintf("%q", msg)
	if strings.ContainsAny(msg, "\x1b") {
		var nums []string
		for _, b := range []byte(msg) {
			nums = append(nums, fmt.Sprint(b))
		}
		m = "[" + strings.Join(nums, ",") + "]"
	}
	return fmt.Sprintf(`{"__CURSOR":"%s","__REALTIME_TIMESTAMP":"%d","_SYSTEMD_UNIT":"cardano-node.service","MESSAGE":%s}`, cursor, at.UnixMicro(), m)
}

func TestFollowJournal(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "journalctl")
	if err := os.WriteFile(bin, []byte(fakeJournalctl), 0o755); err != nil {
		t.Fatal(err)
	}
	old := Journalctl
	Journalctl = bin
	t.Cleanup(func() { Journalctl = old })
	journal := filepath.Join(dir, "journal.json")
	t.Setenv("JOURNAL", journal)
	mark := time.Date(2026, 8, 25, 12, 0, 0, 500e6, time.UTC)

	// A unit without entries yet: read from the opening time (--since has
	// whole seconds; earlier entries of that second are dropped).
	r, err := Open("journald", "cardano-node", mark)
	if err != nil {
		t.Fatal(err)
	}
	appendFile(t, journal,
		journalLine("c1", mark.Add(-100*time.Millisecond), humanDisabled), // same second, earlier: ignored
		journalLine("c2", mark.Add(time.Second), humanTopology))
	got, err := r.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := []Kind{TopologyUpdate}; !eq(kinds(got), want) {
		t.Errorf("no entries at opening: got %v, want %v", kinds(got), want)
	}

	// A unit with entries: everything after the newest one at opening is
	// new, whatever its time stamp.
	r, err = Open("journald", "cardano-node", mark.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	appendFile(t, journal,
		journalLine("c3", mark.Add(time.Second), jsonKES), // stamped before the opening: still new
		journalLine("c4", mark.Add(2*time.Hour), humanEnabled))
	got, err = r.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := []Kind{KESInfo, Enabled}; !eq(kinds(got), want) {
		t.Errorf("got %v, want %v", kinds(got), want)
	}
	appendFile(t, journal, journalLine("c5", mark.Add(3*time.Hour), humanError))
	got, err = r.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := []Kind{ReloadError}; !eq(kinds(got), want) {
		t.Errorf("second read: got %v, want %v", kinds(got), want)
	}

	if _, err := Open("journald", "", mark); err == nil {
		t.Errorf("got no error for the journal without a unit")
	}
	if _, err := Open("journald:other", "", mark); err == nil || !strings.Contains(err.Error(), "No entries for unit other") {
		t.Errorf("got %v, want journalctl's own message", err)
	}
}
