package promtext

import "testing"

func TestWriter(t *testing.T) {
	var w Writer
	w.Gauge("a_seconds", "Help with a \\ backslash\nand a line.", []Label{{"pool", `my "pool"` + "\n" + `\x`}, {"network", "mainnet"}}, 1.5)
	w.Gauge("a_seconds", "ignored the second time", []Label{{"pool", "b"}}, 2)
	w.Gauge("b", "B.", nil, 1e12)
	want := "# HELP a_seconds Help with a \\\\ backslash\\nand a line.\n# TYPE a_seconds gauge\n" +
		"a_seconds{pool=\"my \\\"pool\\\"\\n\\\\x\",network=\"mainnet\"} 1.5\n" +
		"a_seconds{pool=\"b\"} 2\n" +
		"# HELP b B.\n# TYPE b gauge\nb 1000000000000\n"
	if got := string(w.Bytes()); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}
