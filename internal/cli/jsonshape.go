package cli

import (
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"
)

// Outputs declares what each command prints with --json: the command's
// path ("kesrotate pool new") and a value of the one type it prints. The
// shape of that type is the command's JSON contract; docs/formats.md
// documents it key by key and a test holds the two together.
type Outputs map[string]any

// Field is one key of a JSON output: its path from the top ("pools[].name",
// "state.*" for a map's values, "[]" for the elements of a top-level
// array) and the JSON type its value has.
type Field struct {
	Key  string
	Type string
}

// Shape lists the keys v's type prints as JSON, in the order encoding/json
// writes them. Types: string, integer, number, boolean, object, "array of
// T", "T or null" (a pointer), time (an RFC 3339 string); ", optional"
// marks a key left out when empty. A field whose type says nothing about
// its JSON (an interface, a custom marshaler) is an error: every output
// has one shape.
func Shape(v any) ([]Field, error) {
	var out []Field
	if err := shapeOf(reflect.TypeOf(v), "", &out, map[reflect.Type]bool{}); err != nil {
		return nil, err
	}
	return out, nil
}

var (
	timeType      = reflect.TypeOf(time.Time{})
	marshalerType = reflect.TypeOf((*json.Marshaler)(nil)).Elem()
	textType      = reflect.TypeOf((*encoding.TextMarshaler)(nil)).Elem()
)

// kind names the JSON type of t and whether it has keys of its own.
func kind(t reflect.Type) (string, bool, error) {
	if t.Kind() == reflect.Pointer {
		// Before the marshaler checks: *time.Time marshals through
		// time.Time's method, and is a time or null.
		k, _, err := kind(t.Elem())
		return k + " or null", true, err
	}
	switch {
	case t == timeType:
		return "time", false, nil
	case t.Implements(marshalerType) || reflect.PointerTo(t).Implements(marshalerType):
		return "", false, fmt.Errorf("%s marshals itself: its shape is unknown", t)
	case t.Implements(textType) || reflect.PointerTo(t).Implements(textType):
		return "string", false, nil
	}
	switch t.Kind() {
	case reflect.String:
		return "string", false, nil
	case reflect.Bool:
		return "boolean", false, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer", false, nil
	case reflect.Float32, reflect.Float64:
		return "number", false, nil
	case reflect.Struct:
		return "object", true, nil
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return "", false, fmt.Errorf("%s: map keys must be strings", t)
		}
		k, _, err := kind(t.Elem())
		return "object of " + k, true, err
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return "", false, fmt.Errorf("%s prints as base64: use a hex string", t)
		}
		k, _, err := kind(t.Elem())
		return "array of " + k, true, err
	}
	return "", false, fmt.Errorf("%s has no JSON shape", t)
}

func shapeOf(t reflect.Type, prefix string, out *[]Field, seen map[reflect.Type]bool) error {
	if t == nil {
		return errors.New("no type")
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if _, _, err := kind(t); err != nil {
		return err
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		return elemShape(t.Elem(), prefix+"[]", out, seen)
	case reflect.Map:
		return elemShape(t.Elem(), join(prefix, "*"), out, seen)
	case reflect.Struct:
		if t == timeType {
			return nil
		}
		if seen[t] {
			return fmt.Errorf("%s contains itself", t)
		}
		seen[t] = true
		defer delete(seen, t)
		for _, f := range fields(t) {
			k, nested, err := kind(f.typ)
			if err != nil {
				return fmt.Errorf("%s.%s: %w", t, f.goName, err)
			}
			if f.optional {
				k += ", optional"
			}
			key := join(prefix, f.name)
			*out = append(*out, Field{Key: key, Type: k})
			if nested {
				if err := shapeOf(f.typ, key, out, seen); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func elemShape(t reflect.Type, prefix string, out *[]Field, seen map[reflect.Type]bool) error {
	if _, nested, err := kind(t); err != nil || !nested {
		return err
	}
	return shapeOf(t, prefix, out, seen)
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

type jsonField struct {
	name, goName string
	typ          reflect.Type
	optional     bool
	depth        int  // how deep in embedded structs
	tagged       bool // named by its json tag
}

// fields lists the keys of struct t the way encoding/json does: exported
// fields under their tag names, embedded structs without a tag flattened
// into their parent, "-" left out. Of two fields with one name the
// shallower one hides the other, then the tagged one; two left at one
// depth hide each other (encoding/json's rules for embedded structs).
func fields(t reflect.Type) []jsonField {
	all := allFields(t, 0)
	byName := map[string][]int{}
	for i, f := range all {
		byName[f.name] = append(byName[f.name], i)
	}
	var out []jsonField
	for i, f := range all {
		if dominant(all, byName[f.name]) == i {
			out = append(out, f)
		}
	}
	return out
}

// allFields lists every field encoding/json could print for t, hidden or
// not, in the order it prints them.
func allFields(t reflect.Type, depth int) []jsonField {
	var out []jsonField
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		ft := sf.Type
		if sf.Anonymous && name == "" {
			et := ft
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				out = append(out, allFields(et, depth+1)...)
				continue
			}
		}
		if !sf.IsExported() {
			continue
		}
		tagged := name != ""
		if !tagged {
			name = sf.Name
		}
		optional := false
		for _, o := range strings.Split(opts, ",") {
			if o == "omitempty" || o == "omitzero" {
				optional = true
			}
		}
		out = append(out, jsonField{name: name, goName: sf.Name, typ: ft, optional: optional, depth: depth, tagged: tagged})
	}
	return out
}

// dominant is the index of the field among candidates (of one name) that
// encoding/json prints, or -1 when they hide each other.
func dominant(all []jsonField, candidates []int) int {
	top := -1
	for _, i := range candidates {
		if top < 0 || all[i].depth < all[top].depth {
			top = i
		}
	}
	var shallow, tagged []int
	for _, i := range candidates {
		if all[i].depth == all[top].depth {
			shallow = append(shallow, i)
			if all[i].tagged {
				tagged = append(tagged, i)
			}
		}
	}
	switch {
	case len(shallow) == 1:
		return shallow[0]
	case len(tagged) == 1:
		return tagged[0]
	}
	return -1
}

// CheckJSON reports how the JSON document data differs from the shape of
// v's type: a key the type does not have, a key it always prints that is
// missing, or a value of another JSON type. It is what the tests use to
// hold every command's real output to its declared type.
func CheckJSON(data []byte, v any) error {
	var doc any
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	var problems []string
	checkValue(doc, reflect.TypeOf(v), "", &problems)
	if len(problems) > 0 {
		sort.Strings(problems)
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

func checkValue(doc any, t reflect.Type, path string, problems *[]string) {
	name := path
	if name == "" {
		name = "the top"
	}
	bad := func(format string, args ...any) {
		*problems = append(*problems, name+": "+fmt.Sprintf(format, args...))
	}
	if t.Kind() == reflect.Pointer {
		if doc == nil {
			return
		}
		t = t.Elem()
	}
	k, _, err := kind(t)
	if err != nil {
		bad("%v", err)
		return
	}
	switch k {
	case "time":
		s, ok := doc.(string)
		if !ok {
			bad("want a time, got %s", jsonType(doc))
		} else if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			bad("%q is not an RFC 3339 time", s)
		}
		return
	case "string", "boolean", "integer", "number":
		got := jsonType(doc)
		if got == "integer" && k == "number" {
			return
		}
		if got != k {
			bad("want %s, got %s", k, got)
		}
		return
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		arr, ok := doc.([]any)
		if !ok {
			bad("want an array, got %s", jsonType(doc))
			return
		}
		for _, e := range arr {
			checkValue(e, t.Elem(), path+"[]", problems)
		}
	case reflect.Map:
		obj, ok := doc.(map[string]any)
		if !ok {
			bad("want an object, got %s", jsonType(doc))
			return
		}
		for key, e := range obj {
			checkValue(e, t.Elem(), join(path, key), problems)
		}
	case reflect.Struct:
		obj, ok := doc.(map[string]any)
		if !ok {
			bad("want an object, got %s", jsonType(doc))
			return
		}
		known := map[string]bool{}
		for _, f := range fields(t) {
			known[f.name] = true
			e, ok := obj[f.name]
			if !ok {
				if !f.optional {
					*problems = append(*problems, join(path, f.name)+": missing")
				}
				continue
			}
			if e == nil && f.typ.Kind() != reflect.Pointer && !(f.optional && f.typ.Kind() == reflect.Interface) {
				*problems = append(*problems, join(path, f.name)+": null, want "+mustKind(f.typ))
				continue
			}
			checkValue(e, f.typ, join(path, f.name), problems)
		}
		for key := range obj {
			if !known[key] {
				*problems = append(*problems, join(path, key)+": not a key of "+t.String())
			}
		}
	}
}

func mustKind(t reflect.Type) string {
	k, _, _ := kind(t)
	return k
}

func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case json.Number:
		if _, err := x.Int64(); err == nil {
			return "integer"
		}
		if strings.ContainsAny(x.String(), ".eE") {
			return "number"
		}
		return "integer"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// DocumentedShapes reads the JSON output tables of docs/formats.md: under a
// heading "### `kesrotate pool new`", a table whose rows start
// "| `key` | type |". It returns each command's keys in the order written.
func DocumentedShapes(md []byte) map[string][]Field {
	out := map[string][]Field{}
	cmd := ""
	for _, line := range strings.Split(string(md), "\n") {
		line = strings.TrimSpace(line)
		if h, ok := strings.CutPrefix(line, "### "); ok {
			cmd = ""
			if c, ok := strings.CutPrefix(h, "`"); ok && strings.HasSuffix(c, "`") {
				cmd = strings.TrimSuffix(c, "`")
				out[cmd] = []Field{}
			}
			continue
		}
		if strings.HasPrefix(line, "#") {
			cmd = ""
			continue
		}
		if cmd == "" || !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) < 2 {
			continue
		}
		out[cmd] = append(out[cmd], Field{
			Key:  strings.Trim(strings.TrimSpace(cells[0]), "`"),
			Type: strings.TrimSpace(cells[1]),
		})
	}
	return out
}
