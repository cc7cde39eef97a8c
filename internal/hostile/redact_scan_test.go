package hostile

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"
)

// secretField names a field that holds secret material (not a path to it,
// not a hash or public half of it).
var secretField = regexp.MustCompile(`(?i)(seed|priv|secret|skey|passphrase|mnemonic|identity|signerkey|^kes$|^vrf$|^raw$)`)

// notSecretField: names that match secretField but hold a path, a flag, a
// public value or a count.
var notSecretField = regexp.MustCompile(`(?i)(file|path|dir|hash|pub|vkey|recipient|mode|set|given|need|require|factor|len|size|count|name|fingerprint|kind|reason|prompt|hook)`)

// secretType is a type whose value (not pointer) inside a struct carries
// secret bytes: fmt prints unexported fields of a struct without calling
// their Format method, so a struct holding one by value leaks it.
var secretType = regexp.MustCompile(`^(keys\.)?(ColdKey|KESKey|VRFKey)$|^ed25519\.PrivateKey$|^(age\.)?X25519Identity$|^(ceremony\.)?Mnemonic$|^(auditlog\.)?SignerKey$|^(age\.)?Identity$`)

// repoRoot is the module root (two folders up from this package).
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// secretHolders lists "dir.Type" for every struct type in the module's
// non-test code with a field that looks like it holds a secret.
// methods maps "dir.Type" to the fmt methods declared on it ("Format",
// "String", "GoString", or "redacted" when it embeds keys' redacted).
func secretHolders(t *testing.T) (found map[string][]string, methods map[string]map[string]bool) {
	t.Helper()
	root := repoRoot(t)
	found = map[string][]string{}
	methods = map[string]map[string]bool{}
	addMethod := func(typ, m string) {
		if methods[typ] == nil {
			methods[typ] = map[string]bool{}
		}
		methods[typ][m] = true
	}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "testdata", "node_modules", "bin", "dist", ".git":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		f, err := parser.ParseFile(fset, path, src, parser.SkipObjectResolution)
		if err != nil {
			// Another engineer's file in the middle of an edit: the
			// compiler will say so; this scan looks at what parses.
			t.Logf("skipping %s: %v", path, err)
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		ast.Inspect(f, func(n ast.Node) bool {
			if fd, ok := n.(*ast.FuncDecl); ok && fd.Recv != nil && len(fd.Recv.List) == 1 {
				switch fd.Name.Name {
				case "Format", "String", "GoString":
					rt := fd.Recv.List[0].Type
					if se, ok := rt.(*ast.StarExpr); ok {
						rt = se.X
					}
					if id, ok := rt.(*ast.Ident); ok {
						addMethod(rel+"."+id.Name, fd.Name.Name)
					}
				}
				return false
			}
			ts, ok := n.(*ast.TypeSpec)
			if !ok {
				return true
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				return true
			}
			for _, fld := range st.Fields.List {
				typ := string(src[fset.Position(fld.Type.Pos()).Offset:fset.Position(fld.Type.End()).Offset])
				if len(fld.Names) == 0 && typ == "redacted" {
					addMethod(rel+"."+ts.Name.Name, "redacted")
				}
				if strings.HasPrefix(typ, "*") || strings.HasPrefix(typ, "func") {
					// fmt prints a nested pointer as an address or
					// through the pointee's own Format; funcs as addresses.
					continue
				}
				names := []string{typ}
				for _, id := range fld.Names {
					names = append(names, id.Name)
				}
				for _, name := range names[1:] {
					if secretField.MatchString(name) && !notSecretField.MatchString(name) && holdsBytes(typ) {
						found[rel+"."+ts.Name.Name] = append(found[rel+"."+ts.Name.Name], name+" "+typ)
					}
				}
				if secretType.MatchString(strings.TrimPrefix(typ, "[]")) {
					found[rel+"."+ts.Name.Name] = append(found[rel+"."+ts.Name.Name], strings.Join(names[1:], ",")+" "+typ)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found, methods
}

// holdsBytes: a field type that can carry key material by value.
func holdsBytes(typ string) bool {
	return typ == "string" || strings.HasSuffix(typ, "byte") || strings.HasSuffix(typ, "PrivateKey") ||
		strings.HasSuffix(typ, "Identity") || strings.HasSuffix(typ, "Key") || strings.HasSuffix(typ, "Mnemonic") ||
		strings.HasPrefix(typ, "[]")
}

func TestSecretTypesAreListed(t *testing.T) {
	found, methods := secretHolders(t)
	var missing []string
	for typ, fields := range found {
		if _, ok := redactedTypes[typ]; ok {
			continue
		}
		if _, ok := notSecretTypes[typ]; ok {
			continue
		}
		missing = append(missing, typ+" ("+strings.Join(fields, "; ")+")")
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("%s looks like it holds a secret: make it print [REDACTED] (String, GoString, Format) and add a case to TestSecretsRedacted, or say in notSecretTypes why not", m)
	}
	for typ := range redactedTypes {
		m := methods[typ]
		if !m["redacted"] && !(m["Format"] && m["String"] && m["GoString"]) {
			t.Errorf("%s: got fmt methods %v, want Format, String and GoString (or an embedded keys.redacted)", typ, m)
		}
	}
}
