package keys

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/kesrotate/kesrotate/internal/textsafe"
)

// TextEnvelope types written and read by cardano-cli. cardano-cli has no
// aliases: a reader must match the type exactly.
const (
	TypeColdSigningKey            = "StakePoolSigningKey_ed25519"
	TypeColdVerificationKey       = "StakePoolVerificationKey_ed25519"
	TypeColdExtendedSigningKey    = "StakePoolExtendedSigningKey_ed25519_bip32"
	TypeColdExtendedVerification  = "StakePoolExtendedVerificationKey_ed25519_bip32"
	TypeCounter                   = "NodeOperationalCertificateIssueCounter"
	TypeVRFSigningKey             = "VrfSigningKey_PraosVRF"
	TypeVRFVerificationKey        = "VrfVerificationKey_PraosVRF"
	TypeKESSigningKey             = "KesSigningKey_ed25519_kes_2^6"
	TypeKESVerificationKey        = "KesVerificationKey_ed25519_kes_2^6"
	TypeOperationalCertificate    = "NodeOperationalCertificate"
	DescriptionColdSigningKey     = "Stake Pool Operator Signing Key"
	DescriptionColdVerificationKy = "Stake Pool Operator Verification Key"
	DescriptionVRFSigningKey      = "VRF Signing Key"
	DescriptionVRFVerificationKey = "VRF Verification Key"
	DescriptionKESSigningKey      = "KES Signing Key"
	DescriptionKESVerificationKey = "KES Verification Key"
)

// Envelope is a cardano-cli TextEnvelope: a JSON object with a type, a free
// text description and the hex of a CBOR value.
type Envelope struct {
	Type        string
	Description string
	CBOR        []byte
}

// envelopeKeys are the keys of a TextEnvelope, exactly as cardano-cli
// writes them.
var envelopeKeys = []string{"type", "description", "cborHex"}

// ParseEnvelope reads a TextEnvelope in any JSON formatting (whitespace,
// key order, escapes). It requires "type" and "cborHex" as strings,
// refuses a key given twice or in another case ("Type", "CBORHEX": JSON
// decoders match those case-insensitively, so two readers could disagree
// on which value counts) and anything but whitespace after the object.
// Other keys are ignored. Errors describe the problem without quoting the
// input: a secret file given by mistake must not end up on the screen.
func ParseEnvelope(data []byte) (*Envelope, error) {
	got, err := readStringObject(data, envelopeKeys, ErrEnvelope)
	if err != nil {
		return nil, err
	}
	if got["type"] == nil || got["cborHex"] == nil {
		return nil, fmt.Errorf("%w: missing \"type\" or \"cborHex\"", ErrEnvelope)
	}
	b, err := hex.DecodeString(strings.TrimSpace(*got["cborHex"]))
	if err != nil {
		return nil, fmt.Errorf("%w: cborHex is not hex", ErrEnvelope)
	}
	e := &Envelope{Type: *got["type"], CBOR: b}
	if got["description"] != nil {
		e.Description = *got["description"]
	}
	return e, nil
}

// readStringObject reads one JSON object and returns the string values of
// the keys it knows (nil for those absent), with ParseEnvelope's rules:
// any formatting, other keys ignored, a known key given twice or in
// another case refused, nothing but whitespace after the object. Errors
// wrap kind and quote no value.
func readStringObject(data []byte, known []string, kind error) (map[string]*string, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", kind, fmt.Sprintf(format, a...))
	}
	jsonErr := func(err error) error { return fmt.Errorf("%w: %v", kind, textsafe.JSONError(err)) }
	tok, err := dec.Token()
	if err != nil {
		return nil, jsonErr(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, bad("not a JSON object")
	}
	got := map[string]*string{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, jsonErr(err)
		}
		key, _ := tok.(string)
		var match string
		for _, k := range known {
			if strings.EqualFold(key, k) {
				match = k
			}
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, jsonErr(err)
		}
		switch {
		case match == "":
			continue
		case key != match:
			return nil, bad("key %q written in another case (want %q)", textsafe.Cut(key, 32), match)
		case got[key] != nil:
			return nil, bad("key %q given twice", key)
		}
		var v string
		if len(raw) == 0 || raw[0] != '"' {
			return nil, bad("%q is not a JSON string", key)
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, jsonErr(err)
		}
		got[key] = &v
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, jsonErr(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, bad("more after the JSON object")
	}
	return got, nil
}

// Marshal writes the envelope exactly as cardano-cli does: the three keys in
// order, 4-space indent, lower-case hex and a final newline.
func (e *Envelope) Marshal() []byte {
	var b bytes.Buffer
	b.WriteString("{\n    \"type\": ")
	b.Write(jsonString(e.Type))
	b.WriteString(",\n    \"description\": ")
	b.Write(jsonString(e.Description))
	b.WriteString(",\n    \"cborHex\": \"")
	b.WriteString(hex.EncodeToString(e.CBOR))
	b.WriteString("\"\n}\n")
	return b.Bytes()
}

func jsonString(s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return bytes.TrimRight(b.Bytes(), "\n")
}

// expect checks the envelope's type.
func (e *Envelope) expect(types ...string) error {
	for _, t := range types {
		if e.Type == t {
			return nil
		}
	}
	return fmt.Errorf("%w: got %q, want %q", ErrType, textsafe.Cut(e.Type, 32), strings.Join(types, `" or "`))
}

// bytesPayload decodes a CBOR byte string of exactly n bytes (n < 0: any
// length) and requires the canonical header cardano-cli writes.
func (e *Envelope) bytesPayload(sizes ...int) ([]byte, error) {
	b, err := decodeByteString(e.CBOR)
	if err != nil {
		return nil, err
	}
	for _, n := range sizes {
		if len(b) == n {
			return b, nil
		}
	}
	return nil, fmt.Errorf("%w: %s holds %d bytes, want %s", ErrSize, e.Type, len(b), sizeList(sizes))
}

func sizeList(sizes []int) string {
	s := make([]string, len(sizes))
	for i, n := range sizes {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, " or ")
}
