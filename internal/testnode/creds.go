package testnode

// Reading the three credential files the way cardano-node does, with the
// node's error values. The reader is written from the node's sources and
// shares no parser with the agent (it does not use this repository's keys
// or opcert packages): a format bug common to both would hide otherwise.
//
// cardano-node 10.6.4, cardano-node/src/Cardano/Node/Protocol/Shelley.hs,
// readLeaderCredentialsSingleton: the VRF key file is read first, then
// opCertKesKeyCheck reads the op cert and the KES key and refuses a KES key
// whose verification key is not the cert's hot key (MismatchedKesKey). Each
// read is cardano-api's readFileTextEnvelope: fileIOExceptT turns a path
// where doesFileExist is False (missing, a directory, a dangling link, an
// unreachable folder: any error) into FileDoesNotExistError, an error while
// reading into FileIOError, a bad envelope into FileError path
// TextEnvelopeError. Nothing else is checked: not the file modes (the VRF
// mode is checked once, at process start, in Run.hs), not the cold key's
// signature on the cert, not the KES window, not whether the KES key file
// was already evolved. Symlinks are followed.

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"

	"github.com/blinklabs-io/gouroboros/kes"
	"golang.org/x/crypto/blake2b"
)

// TextEnvelope types of the three files (cardano-api textEnvelopeType).
const (
	envelopeVRFSigningKey = "VrfSigningKey_PraosVRF"
	envelopeKESSigningKey = "KesSigningKey_ed25519_kes_2^6"
	envelopeOpCert        = "NodeOperationalCertificate"
)

const (
	kesSigningKeySize = 608 // Sum6KES over Ed25519, cardano-base's raw form
	vrfSigningKeySize = 64  // Praos VRF: seed ‖ public key
	kesDepth          = 6
)

// credentials is one credential set as the node holds it.
type credentials struct {
	kesRaw  []byte // the 608-byte KES signing key as read (from a KES agent: as pushed)
	vrfRaw  []byte // the 64-byte VRF signing key as read
	certRaw []byte // the cert's CBOR

	hotVK              [32]byte
	counter, kesPeriod uint64
	sigma              []byte
	coldVK             [32]byte

	// fromAgent: the KES key (and the cert it came with) is a KES agent's
	// (kesagent.go); kesRaw is nil until the agent sends one, and is at
	// evolution kesEvolution.
	fromAgent    bool
	kesEvolution uint64
}

func (c *credentials) wipe() {
	if c == nil {
		return
	}
	clear(c.kesRaw)
	clear(c.vrfRaw)
}

func (c *credentials) poolID() [28]byte {
	return blake2b224(c.coldVK[:])
}

func (c *credentials) vrfVKey() [32]byte {
	var vk [32]byte
	copy(vk[:], c.vrfRaw[32:])
	return vk
}

// certHash is the SHA-256 of the cert's CBOR, as opcert.Certificate.Hash
// reports it.
func (c *credentials) certHash() string {
	h := sha256.Sum256(c.certRaw)
	return hex.EncodeToString(h[:])
}

// signatureValid says whether the cold key's signature over the cert's
// 48-byte signable (hot vk ‖ counter ‖ KES period, big-endian) holds. The
// node never checks it; its peers do, on every block.
func (c *credentials) signatureValid() bool {
	msg := make([]byte, 0, 48)
	msg = append(msg, c.hotVK[:]...)
	msg = binary.BigEndian.AppendUint64(msg, c.counter)
	msg = binary.BigEndian.AppendUint64(msg, c.kesPeriod)
	return len(c.sigma) == ed25519.SignatureSize && ed25519.Verify(c.coldVK[:], msg, c.sigma)
}

// signsAt says whether the key, evolved by the node from what it takes to
// be evolution 0, makes a signature at evolution t that verifies under the
// cert's hot key. It fails for a key file that was evolved before it was
// handed to the node.
func (c *credentials) signsAt(t uint64) bool {
	if c.kesRaw == nil || t < c.kesEvolution {
		return false // no key, or one evolved past t: it cannot go back
	}
	sk := &kes.SecretKey{Depth: kesDepth, Period: c.kesEvolution, Data: bytes.Clone(c.kesRaw)}
	defer sk.Zeroize()
	for i := c.kesEvolution; i < t; i++ {
		next, err := kes.Update(sk)
		if err != nil {
			return false
		}
		sk.Zeroize()
		sk = next
	}
	msg := []byte("kesrotate test node forge probe")
	sig, err := kes.Sign(sk, t, msg)
	if err != nil {
		return false
	}
	return kes.VerifySignedKES(c.hotVK[:], t, msg, sig)
}

// credError is a PraosLeaderCredentialsError, kept so that it can be shown
// the way the node shows it.
type credError struct {
	kind   credErrorKind
	path   string
	path2  string // MismatchedKesKey: the cert
	detail string // FileIOError: the IOException's show; FileError: the TextEnvelopeError's show
	prose  string // FileError: the TextEnvelopeError's prettyError
	cause  error  // for errors.Is
}

type credErrorKind int

const (
	credMissing      credErrorKind = iota // FileError (FileDoesNotExistError path)
	credIO                                // FileError (FileIOError path ioe)
	credEnvelope                          // FileError (FileError path TextEnvelopeError)
	credMismatched                        // MismatchedKesKey kesPath certPath
	credNotSpecified                      // OCertNotSpecified, VRFKeyNotSpecified, KESKeyNotSpecified (path: the missing flag)
)

// notSpecified is readLeaderCredentialsSingleton's refusal of a partial
// set (cardano-node/src/Cardano/Node/Protocol/Shelley.hs): the cert is
// looked at first, then the VRF key, then the KES key. nil for all three
// paths or none.
func notSpecified(cfg Config) *credError {
	switch {
	case !cfg.producer() || (cfg.KESKeyPath != "" || cfg.agentMode()) && cfg.VRFKeyPath != "" && cfg.CertPath != "":
		return nil
	case cfg.CertPath == "":
		return &credError{kind: credNotSpecified, path: "shelley-operational-certificate", detail: "OCertNotSpecified"}
	case cfg.VRFKeyPath == "":
		return &credError{kind: credNotSpecified, path: "shelley-vrf-key", detail: "VRFKeyNotSpecified"}
	}
	return &credError{kind: credNotSpecified, path: "shelley-kes-key", detail: "KESKeyNotSpecified"}
}

func (e *credError) Error() string { return e.pretty() }

func (e *credError) Unwrap() error {
	switch e.kind {
	case credMissing:
		return ErrMissingCredential
	case credMismatched:
		return ErrKESMismatch
	case credNotSpecified:
		return ErrPartialCredentials
	}
	return ErrCredentialFile
}

// show renders the error as the node's BlockForgingUpdateError shows it:
// the derived Show of the ProtocolInstantiationError
// (cardano-node/src/Cardano/Node/Run.hs: traceWith startupTracer
// (BlockForgingUpdateError err); Startup.hs: "showT err").
func (e *credError) show() string {
	var inner string
	switch e.kind {
	case credMissing:
		inner = fmt.Sprintf("FileError (FileDoesNotExistError %s)", hsQuote(e.path))
	case credIO:
		inner = fmt.Sprintf("FileError (FileIOError %s %s)", hsQuote(e.path), e.detail)
	case credEnvelope:
		inner = fmt.Sprintf("FileError (FileError %s (%s))", hsQuote(e.path), e.detail)
	case credMismatched:
		inner = fmt.Sprintf("MismatchedKesKey %s %s", hsQuote(e.path), hsQuote(e.path2))
	case credNotSpecified:
		return "CardanoProtocolInstantiationError (CardanoProtocolInstantiationPraosLeaderCredentialsError " + e.detail + ")"
	}
	return "CardanoProtocolInstantiationError (CardanoProtocolInstantiationPraosLeaderCredentialsError (" + inner + "))"
}

// pretty renders the error as the node's prettyError does; that is what it
// prints when it refuses to start (runThrowExceptT, displayException):
// cardano-api's FileError "path: " and TextEnvelopeError's prettyError
// ("TextEnvelope type error:  Expected: … Actual: …").
func (e *credError) pretty() string {
	switch e.kind {
	case credMissing:
		return "Error file not found at: " + e.path
	case credIO:
		return e.path + ": " + e.ioText()
	case credEnvelope:
		return e.path + ": " + e.prose
	case credNotSpecified:
		// pshow of missingFlagMessage: the String's Show, quotes included.
		return hsQuote("To create blocks, the --" + e.path + " must also be specified")
	}
	return fmt.Sprintf("The KES key provided at: %s does not match the KES key specified in the operational certificate at: %s",
		hsQuote(e.path), hsQuote(e.path2))
}

func (e *credError) ioText() string { return e.detail }

func hsQuote(s string) string { return hsShowString([]byte(s), true) }

// readCredentials reads the set in the node's order.
func readCredentials(vrfPath, certPath, kesPath string) (*credentials, *credError) {
	vrf, cerr := readEnvelope(vrfPath, envelopeVRFSigningKey)
	if cerr != nil {
		return nil, cerr
	}
	c := &credentials{}
	if cerr := c.setVRF(vrfPath, vrf); cerr != nil {
		return nil, cerr
	}
	cert, cerr := readEnvelope(certPath, envelopeOpCert)
	if cerr != nil {
		c.wipe()
		return nil, cerr
	}
	if cerr := c.setCert(certPath, cert); cerr != nil {
		c.wipe()
		return nil, cerr
	}
	kesKey, cerr := readEnvelope(kesPath, envelopeKESSigningKey)
	if cerr != nil {
		c.wipe()
		return nil, cerr
	}
	if cerr := c.setKES(kesPath, kesKey); cerr != nil {
		c.wipe()
		return nil, cerr
	}
	if vk := blake2b256(c.kesRaw[kesSigningKeySize-64:]); vk != c.hotVK {
		c.wipe()
		return nil, &credError{kind: credMismatched, path: kesPath, path2: certPath}
	}
	return c, nil
}

// readEnvelope reads a TextEnvelope file and returns its CBOR payload.
func readEnvelope(path, wantType string) ([]byte, *credError) {
	fi, err := os.Stat(path) // doesFileExist: follows links, False on any error
	if err != nil || fi.IsDir() {
		return nil, &credError{kind: credMissing, path: path, cause: err}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &credError{kind: credIO, path: path, detail: ghcIOError(path, "openFileBlocking", err), cause: err}
	}
	var te struct {
		Type        *string `json:"type"`
		Description *string `json:"description"`
		CBORHex     *string `json:"cborHex"`
	}
	if err := json.Unmarshal(data, &te); err != nil {
		return nil, aesonErr(path, "Error in $: "+err.Error())
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"type", te.Type}, {"description", te.Description}, {"cborHex", te.CBORHex}} {
		if f.v == nil {
			return nil, aesonErr(path, fmt.Sprintf("Error in $: key %q not found", f.name))
		}
	}
	cb, err := hex.DecodeString(*te.CBORHex)
	if err != nil {
		return nil, aesonErr(path, "Error in $.cborHex: "+err.Error())
	}
	if *te.Type != wantType {
		return nil, &credError{kind: credEnvelope, path: path,
			detail: fmt.Sprintf("TextEnvelopeTypeError [TextEnvelopeType %s] (TextEnvelopeType %s)", hsQuote(wantType), hsQuote(*te.Type)),
			prose:  "TextEnvelope type error:  Expected: " + wantType + " Actual: " + *te.Type}
	}
	return cb, nil
}

// aesonErr is a TextEnvelopeAesonDecodeError. The message is Go's JSON
// decoder's, where the node has aeson's.
func aesonErr(path, msg string) *credError {
	return &credError{kind: credEnvelope, path: path,
		detail: "TextEnvelopeAesonDecodeError " + hsQuote(msg),
		prose:  "TextEnvelope aeson decode error: " + msg}
}

// decodeError is the TextEnvelopeDecodeError the node reports for a payload
// that does not deserialise. The real text carries cborg's DeserialiseFailure
// (offset and message); the test node says what it found instead.
func decodeError(path, what string) *credError {
	shown := fmt.Sprintf("DecoderErrorDeserialiseFailure %s (DeserialiseFailure 0 %s)", hsQuote("Shelley "+what), hsQuote("end of input"))
	return &credError{kind: credEnvelope, path: path,
		detail: "TextEnvelopeDecodeError (" + shown + ")",
		prose:  "TextEnvelope decode error: " + shown}
}

func (c *credentials) setVRF(path string, cb []byte) *credError {
	b, ok := cborBytesExactly(cb, vrfSigningKeySize)
	if !ok {
		return decodeError(path, "VRF signing key")
	}
	c.vrfRaw = b
	return nil
}

func (c *credentials) setKES(path string, cb []byte) *credError {
	b, ok := cborBytesExactly(cb, kesSigningKeySize)
	if !ok {
		return decodeError(path, "KES signing key")
	}
	c.kesRaw = b
	return nil
}

// setCert decodes [[hot vk, counter, KES period, sigma], cold vk].
func (c *credentials) setCert(path string, cb []byte) *credError {
	d := dec{b: cb}
	bad := decodeError(path, "OperationalCertificate")
	if n, err := d.listLen(); err != nil || n != 2 {
		return bad
	}
	if n, err := d.listLen(); err != nil || n != 4 {
		return bad
	}
	hot, err := d.byteString()
	if err != nil || len(hot) != 32 {
		return bad
	}
	if c.counter, err = d.word(); err != nil {
		return bad
	}
	if c.kesPeriod, err = d.word(); err != nil {
		return bad
	}
	sigma, err := d.byteString()
	if err != nil || len(sigma) != ed25519.SignatureSize {
		return bad
	}
	cold, err := d.byteString()
	if err != nil || len(cold) != 32 || d.off != len(d.b) {
		return bad
	}
	copy(c.hotVK[:], hot)
	copy(c.coldVK[:], cold)
	c.sigma = bytes.Clone(sigma)
	c.certRaw = bytes.Clone(cb)
	return nil
}

func cborBytesExactly(cb []byte, n int) ([]byte, bool) {
	d := dec{b: cb}
	b, err := d.byteString()
	if err != nil || len(b) != n || d.off != len(cb) {
		return nil, false
	}
	return bytes.Clone(b), true
}

// ghcIOError renders an IOException as GHC's Show instance does:
// "path: location: kind (strerror)".
func ghcIOError(path, location string, err error) string {
	kind, desc := "failed", err.Error()
	var errno syscall.Errno
	if errors.As(err, &errno) {
		desc = capitalise(errno.Error())
		switch {
		case errors.Is(err, fs.ErrPermission):
			kind = "permission denied"
		case errors.Is(err, fs.ErrNotExist):
			kind = "does not exist"
		case errno == syscall.EISDIR:
			kind = "inappropriate type"
		case errno == syscall.EMFILE || errno == syscall.ENFILE:
			kind = "resource exhausted"
		default:
			kind = "failed"
		}
	}
	return fmt.Sprintf("%s: %s: %s (%s)", path, location, kind, desc)
}

func capitalise(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

func blake2b256(b []byte) [32]byte { return blake2b.Sum256(b) }

func blake2b224(b []byte) [28]byte {
	h, _ := blake2b.New(28, nil)
	h.Write(b)
	var out [28]byte
	copy(out[:], h.Sum(nil))
	return out
}

// Format keeps the keys out of any print: a credential set prints
// [REDACTED] whatever the verb.
func (credentials) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, "[REDACTED]") }

// String and GoString say the same for the other printers.
func (credentials) String() string   { return "[REDACTED]" }
func (credentials) GoString() string { return "[REDACTED]" }
