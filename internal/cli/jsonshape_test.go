package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

type shapeInner struct {
	Name string `json:"name"`
	Seq  uint64 `json:"seq"`
}

type shapeBase struct {
	Pool string `json:"pool"`
}

type shapeOut struct {
	shapeBase
	When    time.Time             `json:"when"`
	Ratio   float64               `json:"ratio"`
	Ok      bool                  `json:"ok"`
	Prev    *shapeInner           `json:"prev"`
	Items   []shapeInner          `json:"items"`
	Tags    []string              `json:"tags"`
	ByName  map[string]shapeInner `json:"by_name"`
	Note    string                `json:"note,omitempty"`
	Since   *time.Time            `json:"since,omitempty"`
	Skipped string                `json:"-"`
	hidden  string
}

func TestShape(t *testing.T) {
	got, err := Shape(shapeOut{hidden: ""})
	if err != nil {
		t.Fatal(err)
	}
	want := "[{pool string} {when time} {ratio number} {ok boolean} {prev object or null} {prev.name string} {prev.seq integer} " +
		"{items array of object} {items[].name string} {items[].seq integer} {tags array of string} " +
		"{by_name object of object} {by_name.*.name string} {by_name.*.seq integer} {note string, optional} {since time or null, optional}]"
	if fmt.Sprint(got) != want {
		t.Errorf("Shape:\n got %v\nwant %s", got, want)
	}
	top, err := Shape([]shapeInner{})
	if err != nil || fmt.Sprint(top) != "[{[].name string} {[].seq integer}]" {
		t.Errorf("Shape of a top-level array = %v, %v", top, err)
	}
}

func TestShapeRefusesUnknownShapes(t *testing.T) {
	for name, v := range map[string]any{
		"interface": struct {
			X any `json:"x"`
		}{},
		"bytes": struct {
			X []byte `json:"x"`
		}{},
		"marshaler": struct {
			X selfMarshal `json:"x"`
		}{},
		"recursive": recursive{},
	} {
		if _, err := Shape(v); err == nil {
			t.Errorf("%s: Shape accepted it", name)
		}
	}
}

type selfMarshal struct{}

func (selfMarshal) MarshalJSON() ([]byte, error) { return []byte("1"), nil }

type recursive struct {
	Next *recursive `json:"next"`
}

func TestCheckJSON(t *testing.T) {
	good := `{"pool":"p","when":"2026-11-30T12:00:00Z","ratio":1,"ok":true,"prev":null,"items":[{"name":"a","seq":1}],"tags":[],"by_name":{"a":{"name":"a","seq":2}},"since":"2026-11-30T12:00:00Z"}`
	if err := CheckJSON([]byte(good), shapeOut{}); err != nil {
		t.Fatalf("CheckJSON(good) = %v", err)
	}
	for _, tc := range []struct{ edit, want string }{
		{`"ok":true`, "ok: missing"},
		{`"ok":"yes"`, "ok: want boolean, got string"},
		{`"tags":null`, "tags: null, want array of string"},
		{`"tags":[1]`, "tags[]: want string, got integer"},
		{`"when":"monday"`, `when: "monday" is not an RFC 3339 time`},
		{`"items":[{"name":"a","seq":1.5}]`, "items[].seq: want integer, got number"},
		{`"by_name":{"a":{"name":"a","seq":2,"x":1}}`, "by_name.a.x: not a key of"},
		{`"prev":{"name":"a"}`, "prev.seq: missing"},
		{`"since":"monday"`, `since: "monday" is not an RFC 3339 time`},
	} {
		key, _, _ := strings.Cut(tc.edit, ":")
		doc := replaceKey(t, good, key, tc.edit)
		err := CheckJSON([]byte(doc), shapeOut{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CheckJSON(%s) = %v, want %q", tc.edit, err, tc.want)
		}
	}
	if err := CheckJSON([]byte(`{"note":"x","extra":1}`), shapeOut{}); err == nil || !strings.Contains(err.Error(), "extra: not a key") {
		t.Errorf("an unknown key: %v", err)
	}
}

// replaceKey replaces the key/value pair of key in doc by edit ("" removes
// nothing else); a removal is an edit of "ok":true to a missing key.
func replaceKey(t *testing.T, doc, key, edit string) string {
	t.Helper()
	i := strings.Index(doc, key+":")
	if i < 0 {
		t.Fatalf("no %s in %s", key, doc)
	}
	j := i + len(key) + 1
	depth := 0
	for ; j < len(doc); j++ {
		c := doc[j]
		if depth == 0 && (c == ',' || c == '}') {
			break
		}
		switch c {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		}
	}
	if edit == key+":true" && key == `"ok"` {
		return doc[:i] + doc[j+1:]
	}
	return doc[:i] + edit + doc[j:]
}

func TestDocumentedShapes(t *testing.T) {
	md := "## x\n\n### `kesrotate init`\n\n| key | type | meaning |\n|---|---|---|\n| `vault` | string | the folder |\n| `a.b` | array of object | x |\n\n### Not a command\n| `z` | string | |\n"
	got := DocumentedShapes([]byte(md))
	if fmt.Sprint(got) != "map[kesrotate init:[{vault string} {a.b array of object}]]" {
		t.Errorf("DocumentedShapes = %v", got)
	}
}

func TestPrintJSONPrintsOnlyTheDeclaredType(t *testing.T) {
	var out strings.Builder
	e := &Env{Stdout: &out, Outputs: Outputs{"kesrotate x": shapeInner{}}}
	e.command = "kesrotate x"
	if err := e.PrintJSON(map[string]any{"name": "a"}); err == nil || !strings.Contains(err.Error(), "declares cli.shapeInner") {
		t.Errorf("PrintJSON(a map) = %v", err)
	}
	if err := e.PrintJSON(&shapeInner{Name: "a"}); err != nil {
		t.Errorf("PrintJSON(declared type) = %v", err)
	}
	e.command = "kesrotate y"
	if err := e.PrintJSON(shapeInner{}); err == nil || !strings.Contains(err.Error(), "declares no JSON output") {
		t.Errorf("PrintJSON in an undeclared command = %v", err)
	}
	if got := out.String(); got != "{\n  \"name\": \"a\",\n  \"seq\": 0\n}\n" {
		t.Errorf("printed %q", got)
	}
}

type shapeHidden struct {
	Pool  string `json:"pool"`
	Extra any    `json:"extra"` // hidden by shapeOuter.Extra: its shape does not matter
	Depth string `json:"depth"`
}

type shapeTwin struct {
	Twin int `json:"Twin"` // hides shapeTwin2.Twin: tagged
	Both string
}

type shapeTwin2 struct {
	Twin string
	Both int // shapeTwin.Both and this hide each other
}

type shapeOuter struct {
	shapeHidden
	shapeTwin
	shapeTwin2
	Extra int `json:"extra"`
}

// TestShapeHidesEmbeddedFields: a field of the outer struct hides the
// embedded one of its name, of two embedded at one depth a tagged one hides
// the other, and two untagged hide each other, as in encoding/json, whose
// output the test compares.
func TestShapeHidesEmbeddedFields(t *testing.T) {
	got, err := Shape(shapeOuter{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "[{pool string} {depth string} {Twin integer} {extra integer}]"; fmt.Sprint(got) != want {
		t.Errorf("Shape:\n got %v\nwant %s", got, want)
	}
	b, err := json.Marshal(shapeOuter{Extra: 1})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"pool":"","depth":"","Twin":0,"extra":1}`; string(b) != want {
		t.Errorf("encoding/json: got %s, want %s", b, want)
	}
	if err := CheckJSON(b, shapeOuter{}); err != nil {
		t.Errorf("CheckJSON(%s) = %v", b, err)
	}
}
