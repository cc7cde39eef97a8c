package keys

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
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

// ParseEnvelope reads a TextEnvelope in any JSON formatting. It requires
// the three fields and lower- or upper-case hex, and rejects trailing data.
func ParseEnvelope(data []byte) (*Envelope, error) {
	var raw struct {
		Type        *string `json:"type"`
		Description *string `json:"description"`
		CBORHex     *string `json:"cborHex"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrEnvelope, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the JSON object", ErrEnvelope)
	}
	if raw.Type == nil || raw.CBORHex == nil {
		return nil, fmt.Errorf("%w: missing \"type\" or \"cborHex\"", ErrEnvelope)
	}
	b, err := hex.DecodeString(strings.TrimSpace(*raw.CBORHex))
	if err != nil {
		return nil, fmt.Errorf("%w: cborHex is not hex", ErrEnvelope)
	}
	e := &Envelope{Type: *raw.Type, CBOR: b}
	if raw.Description != nil {
		e.Description = *raw.Description
	}
	return e, nil
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
	return fmt.Errorf("%w: got %q, want %q", ErrType, e.Type, strings.Join(types, `" or "`))
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
