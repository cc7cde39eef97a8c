package cold

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadPassphraseFile: the one reader of passphrase files, for the
// vault (an empty first line refused) and SLIP-39 (empty is no passphrase).
func TestReadPassphraseFile(t *testing.T) {
	for _, tc := range []struct {
		name, content string
		emptyOK       bool
		want          string
		wantErr       bool
	}{
		{"one line", "correct horse\n", false, "correct horse", false},
		{"no newline", "correct horse", false, "correct horse", false},
		{"crlf", "correct horse\r\nsecond line\n", false, "correct horse", false},
		{"inner spaces kept", "  two  spaces \n", false, "  two  spaces ", false},
		{"empty first line refused", "\nlater\n", false, "", true},
		{"empty file refused", "", false, "", true},
		{"crlf only refused", "\r\n", false, "", true},
		{"empty first line is none for SLIP-39", "\nlater\n", true, "", false},
		{"SLIP-39 crlf", "TREZOR\r\n", true, "TREZOR", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "pass")
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := readPassphraseFile(path, "--passphrase-file", "passphrase", tc.emptyOK)
			if (err != nil) != tc.wantErr || string(got) != tc.want {
				t.Errorf("got %q, %v; want %q, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
	if _, err := readPassphraseFile(filepath.Join(t.TempDir(), "missing"), "--slip39-passphrase-file", "SLIP-39 passphrase", true); err == nil || !strings.Contains(err.Error(), "--slip39-passphrase-file") {
		t.Errorf("missing file: got %v, want an error naming the flag", err)
	}
}
