package producer

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/btcsuite/btcd/btcutil/bech32"
)

// ErrHardwareIdentity: an identity file that does not hold exactly one
// age plugin identity, or whose own comment names another recipient than
// the one given.
var ErrHardwareIdentity = errors.New("unusable hardware identity file")

// PluginIdentity picks the age plugin identity (AGE-PLUGIN-NAME-1…, a
// Bech32 string) out of an identity file a plugin wrote, such as
// 'age-plugin-yubikey --identity'. None, several, or a malformed one is
// ErrHardwareIdentity.
//
// Whether the identity belongs to recipient cannot be told from the
// identity itself: the age plugin protocol (C2SP age-plugin) keeps an
// identity's contents private to its plugin, and the agent runs no
// plugin at init. What the file says is checked instead: plugins write the
// recipient beside the identity as a comment ("#    Recipient: age1…"),
// and a recipient comment whose key (age1yubikey1… or age1tag1…: both are
// a compressed P-256 point) is not recipient's refuses the file.
func PluginIdentity(file []byte, recipient string) (string, error) {
	want, err := recipientKey(recipient)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrHardwareIdentity, err)
	}
	var ids []string
	for _, line := range strings.Split(string(file), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "#"):
			_, r, ok := strings.Cut(line, "ecipient:")
			if r = strings.TrimSpace(r); !ok || !strings.HasPrefix(r, "age1") {
				continue
			}
			if got, err := recipientKey(r); err == nil && len(got) == len(want) && !bytes.Equal(got, want) {
				return "", fmt.Errorf("%w: it is for recipient %s, not %s", ErrHardwareIdentity, r, recipient)
			}
		case strings.HasPrefix(line, "AGE-PLUGIN-"):
			hrp, _, err := bech32.DecodeNoLimit(line)
			if err != nil || !strings.HasPrefix(hrp, "age-plugin-") || !strings.HasSuffix(hrp, "-") || len(hrp) == len("age-plugin--") {
				// Not even part of the line is shown: identity files are
				// secret, whatever their plugin keeps in them.
				return "", fmt.Errorf("%w: a line starting AGE-PLUGIN- is not an age plugin identity (bech32)", ErrHardwareIdentity)
			}
			ids = append(ids, line)
		}
	}
	switch len(ids) {
	case 0:
		return "", fmt.Errorf("%w: it holds no AGE-PLUGIN-… identity", ErrHardwareIdentity)
	case 1:
		return ids[0], nil
	}
	return "", fmt.Errorf("%w: it holds %d AGE-PLUGIN-… identities; give a file with the one for this recipient", ErrHardwareIdentity, len(ids))
}

// recipientKey is the key bytes of a Bech32 age recipient.
func recipientKey(r string) ([]byte, error) {
	_, data, err := bech32.DecodeNoLimit(r)
	if err != nil {
		return nil, fmt.Errorf("recipient %q: %w", r, err)
	}
	return bech32.ConvertBits(data, 5, 8, false)
}
