// Package promtext writes the Prometheus text exposition format for
// node_exporter's textfile collector: the one writer both binaries use, so
// every label value is escaped the same way.
package promtext

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// Label is one label of a sample.
type Label struct{ Name, Value string }

// Writer collects gauges; each name gets its HELP and TYPE lines once,
// before its first sample.
type Writer struct {
	b        bytes.Buffer
	declared map[string]bool
}

// Gauge writes one sample of the gauge name.
func (w *Writer) Gauge(name, help string, labels []Label, v float64) {
	if w.declared == nil {
		w.declared = map[string]bool{}
	}
	if !w.declared[name] {
		w.declared[name] = true
		fmt.Fprintf(&w.b, "# HELP %s %s\n# TYPE %s gauge\n", name, escapeHelp(help), name)
	}
	w.b.WriteString(name)
	if len(labels) > 0 {
		w.b.WriteByte('{')
		for i, l := range labels {
			if i > 0 {
				w.b.WriteByte(',')
			}
			fmt.Fprintf(&w.b, "%s=\"%s\"", l.Name, Escape(l.Value))
		}
		w.b.WriteByte('}')
	}
	fmt.Fprintf(&w.b, " %s\n", strconv.FormatFloat(v, 'f', -1, 64))
}

// Bytes is the file's content.
func (w *Writer) Bytes() []byte { return w.b.Bytes() }

// Escape escapes a label value: backslash, double quote and line feed.
func Escape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

// escapeHelp escapes a HELP text: backslash and line feed.
func escapeHelp(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(s)
}
