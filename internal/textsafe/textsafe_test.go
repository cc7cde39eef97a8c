package textsafe

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
)

func TestJSONErrorNeverQuotesInput(t *testing.T) {
	secret := "86193847561f2e0c"
	for _, tc := range []struct {
		name string
		in   string
		into any
	}{
		{"number-into-struct", secret, &struct{ A string }{}},
		{"number-into-string-field", `{"a": 86193847561}`, &struct {
			A string `json:"a"`
		}{}},
		{"syntax", `{"a": 86193847561x}`, &map[string]any{}},
		{"time", `{"t": "86193847561"}`, &struct {
			T time.Time `json:"t"`
		}{}},
		{"empty", ``, &map[string]any{}},
		{"cut", `{"a": "86193847561`, &map[string]any{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := json.Unmarshal([]byte(tc.in), tc.into)
			if err == nil {
				t.Fatal("the input decoded")
			}
			got := JSONError(err).Error()
			if strings.Contains(got, "8619384") {
				t.Errorf("got %q, which quotes the input", got)
			}
		})
	}
}

func TestEscape(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"bp1", "bp1"},
		{"Zoë 東京", "Zoë 東京"},
		{"abc\u202edcba", `abc\u202edcba`},
		{"x\x1b[31mred", `x\x1b[31mred`},
		{"zero\u200bwidth", `zero\u200bwidth`},
		{"bad\xffutf8", `bad\xffutf8`},
		{"tab\there", `tab\there`},
	} {
		t.Run(tc.want, func(t *testing.T) {
			if got := Escape(tc.in); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if got, want := Clean(tc.in), tc.in == tc.want; got != want {
				t.Errorf("Clean: got %v, want %v", got, want)
			}
		})
	}
}

func TestAgeErrorNeverQuotesInput(t *testing.T) {
	for _, in := range []string{"bb677ea74db5378c8e406a1122", "age-encryption.org/v1\n-> X25519 bb677ea74db5378c8e406a\n"} {
		_, err := age.Decrypt(strings.NewReader(in), mustIdentity(t))
		if err == nil {
			t.Fatal("it decrypted")
		}
		if got := AgeError(err).Error(); strings.Contains(got, "bb677ea7") {
			t.Errorf("got %q, which quotes the input", got)
		}
	}
}

func mustIdentity(t *testing.T) age.Identity {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestClip(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"0123456789abc", 10, "0123456789…"},
		{"éééééé", 5, "éé…"}, // never half a character
		{"a\u202eb", 40, `a\u202eb`},
	} {
		if got := Clip(tc.in, tc.n); got != tc.want {
			t.Errorf("Clip(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

func TestCut(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"éééééé", 5, "éé…"},
		{"a\u202eb", 40, "a\u202eb"}, // left for %q to escape
		{"ab\xffcd", 3, "ab\xff…"},   // invalid bytes are kept, for %q to show
	} {
		if got := Cut(tc.in, tc.n); got != tc.want {
			t.Errorf("Cut(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
