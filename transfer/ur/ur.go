package ur

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// MinFragmentLen is the smallest fragment the encoder makes (the reference's
// default): messages are split into the fewest fragments no longer than the
// maximum, and never into fragments shorter than this.
const MinFragmentLen = 10

// Decoder limits used when the corresponding field is zero.
const (
	DefaultMaxMessageLen = 1 << 20
	DefaultMaxSeqLen     = 4096
)

// ValidType reports whether t is a valid UR type: one or more of the
// characters a-z, 0-9 and hyphen.
func ValidType(t string) bool {
	if t == "" {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

func checkType(t string) error {
	if !ValidType(t) {
		return fmt.Errorf("%w: %q", ErrInvalidType, t)
	}
	return nil
}

// ToUpper returns a UR in uppercase, the form to put in QR codes: every
// character is then in the QR alphanumeric set.
func ToUpper(ur string) string { return strings.ToUpper(ur) }

// EncodeSingle returns the single-part UR "ur:<type>/<bytewords>" carrying
// message as a CBOR byte string, in lowercase.
func EncodeSingle(urType string, message []byte) (string, error) {
	if err := checkType(urType); err != nil {
		return "", err
	}
	return "ur:" + urType + "/" + EncodeBytewords(Minimal, cborBytes(message)), nil
}

// Encoder produces the parts of one message. A message whose payload fits
// one fragment yields the same single-part UR from every call to NextPart;
// otherwise NextPart yields "ur:<type>/<seqNum>-<seqLen>/<bytewords>" parts,
// first the SeqLen plain fragments, then an endless stream of mixed ones.
type Encoder struct {
	urType   string
	payload  []byte
	fountain *fountainEncoder
}

// Encode returns an encoder for message under urType, with fragments of at
// most maxFragmentLen bytes of the CBOR payload.
func Encode(urType string, message []byte, maxFragmentLen int) (*Encoder, error) {
	if err := checkType(urType); err != nil {
		return nil, err
	}
	if maxFragmentLen < 1 {
		return nil, fmt.Errorf("%w: %d", ErrInvalidFragmentLen, maxFragmentLen)
	}
	payload := cborBytes(message)
	if len(payload) > math.MaxInt32 {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(message))
	}
	return &Encoder{
		urType:   urType,
		payload:  payload,
		fountain: newFountainEncoder(payload, maxFragmentLen, MinFragmentLen),
	}, nil
}

// SeqLen is the number of fragments; 1 for a single-part UR.
func (e *Encoder) SeqLen() int { return len(e.fountain.fragments) }

// IsSinglePart reports whether the message fits one part.
func (e *Encoder) IsSinglePart() bool { return e.SeqLen() == 1 }

// NextPart returns the next part in lowercase.
func (e *Encoder) NextPart() string {
	p := e.fountain.nextPart()
	if e.IsSinglePart() {
		return "ur:" + e.urType + "/" + EncodeBytewords(Minimal, e.payload)
	}
	return fmt.Sprintf("ur:%s/%d-%d/%s", e.urType, p.seqNum, p.seqLen, EncodeBytewords(Minimal, p.cbor()))
}

// parsed is a UR split into its components.
type parsed struct {
	urType   string
	isSingle bool
	single   []byte // payload of a single-part UR
	part     *part  // body of a multipart UR
}

func parse(s string) (*parsed, error) {
	s = strings.ToLower(s)
	rest, ok := strings.CutPrefix(s, "ur:")
	if !ok {
		return nil, ErrInvalidScheme
	}
	comps := strings.Split(rest, "/")
	if len(comps) < 2 || len(comps) > 3 {
		return nil, fmt.Errorf("%w: %d components", ErrInvalidPath, len(comps))
	}
	if err := checkType(comps[0]); err != nil {
		return nil, err
	}
	body, err := DecodeBytewords(Minimal, comps[len(comps)-1])
	if err != nil {
		return nil, err
	}
	if len(comps) == 2 {
		return &parsed{urType: comps[0], isSingle: true, single: body}, nil
	}
	num, length, ok := strings.Cut(comps[1], "-")
	if !ok {
		return nil, fmt.Errorf("%w: sequence %q", ErrInvalidPath, comps[1])
	}
	seqNum, err1 := strconv.ParseUint(num, 10, 32)
	seqLen, err2 := strconv.ParseUint(length, 10, 32)
	if err1 != nil || err2 != nil || seqNum == 0 || seqLen == 0 {
		return nil, fmt.Errorf("%w: sequence %q", ErrInvalidPath, comps[1])
	}
	p, err := parsePartCBOR(body)
	if err != nil {
		return nil, err
	}
	if uint64(p.seqNum) != seqNum || uint64(p.seqLen) != seqLen {
		return nil, fmt.Errorf("%w: path says %d-%d, body says %d-%d", ErrInvalidPart, seqNum, seqLen, p.seqNum, p.seqLen)
	}
	return &parsed{urType: comps[0], part: p}, nil
}

// PartInfo is what one UR part says about itself: its type, and for a
// part of a multipart UR the fountain header (which transfer it belongs
// to and which fragments it mixes).
type PartInfo struct {
	Type        string
	Single      bool
	SeqNum      uint32
	SeqLen      int
	MessageLen  int
	Checksum    uint32
	FragmentLen int
}

// Inspect parses one part (single- or multipart, either case) without
// decoding its message.
func Inspect(s string) (PartInfo, error) {
	p, err := parse(s)
	if err != nil {
		return PartInfo{}, err
	}
	if p.isSingle {
		return PartInfo{Type: p.urType, Single: true}, nil
	}
	return PartInfo{Type: p.urType, SeqNum: p.part.seqNum, SeqLen: p.part.seqLen, MessageLen: p.part.messageLen,
		Checksum: p.part.checksum, FragmentLen: len(p.part.data)}, nil
}

// Decode decodes a single-part UR and returns its type and message.
func Decode(s string) (urType string, message []byte, err error) {
	p, err := parse(s)
	if err != nil {
		return "", nil, err
	}
	if !p.isSingle {
		return "", nil, fmt.Errorf("%w: multipart ur needs a Decoder", ErrInvalidPath)
	}
	message, err = decodeCBORBytes(p.single)
	if err != nil {
		return "", nil, err
	}
	return p.urType, message, nil
}

// Decoder collects the parts of one transfer, in any order, until the message
// can be reassembled. The zero value is ready to use.
type Decoder struct {
	// ExpectedType, when set, makes parts of any other type foreign.
	ExpectedType string
	// MaxMessageLen and MaxSeqLen bound what a first part may announce
	// (defaults DefaultMaxMessageLen and DefaultMaxSeqLen).
	MaxMessageLen int
	MaxSeqLen     int

	urType   string
	isSingle bool
	single   []byte
	fountain *fountainDecoder
}

// NewDecoder returns a decoder that accepts any type.
func NewDecoder() *Decoder { return &Decoder{} }

// Receive takes one part (single- or multipart, either case). Duplicates and
// parts arriving after completion are ignored. A part of another transfer is
// rejected with ErrForeignPart and changes nothing.
func (d *Decoder) Receive(s string) error {
	p, err := parse(s)
	if err != nil {
		return err
	}
	if d.ExpectedType != "" && p.urType != d.ExpectedType {
		return fmt.Errorf("%w: type %q, want %q", ErrForeignPart, p.urType, d.ExpectedType)
	}
	if d.urType != "" && p.urType != d.urType {
		return fmt.Errorf("%w: type %q, want %q", ErrForeignPart, p.urType, d.urType)
	}
	if p.isSingle {
		switch {
		case d.isSingle && string(d.single) != string(p.single):
			return fmt.Errorf("%w: another single-part ur", ErrForeignPart)
		case d.fountain != nil:
			return fmt.Errorf("%w: single-part ur during a multipart transfer", ErrForeignPart)
		}
		if err := d.checkSize(len(p.single), 1); err != nil {
			return err
		}
		d.urType, d.isSingle, d.single = p.urType, true, p.single
		return nil
	}
	if d.isSingle {
		return fmt.Errorf("%w: multipart ur after a single-part ur", ErrForeignPart)
	}
	if d.fountain == nil {
		if err := d.checkSize(p.part.messageLen, p.part.seqLen); err != nil {
			return err
		}
		d.urType = p.urType
		d.fountain = newFountainDecoder(p.part)
	} else if what := d.fountain.mismatch(p.part); what != "" {
		return fmt.Errorf("%w: %s differs", ErrForeignPart, what)
	}
	d.fountain.receive(p.part)
	return nil
}

func (d *Decoder) checkSize(messageLen, seqLen int) error {
	maxMsg, maxSeq := d.MaxMessageLen, d.MaxSeqLen
	if maxMsg <= 0 {
		maxMsg = DefaultMaxMessageLen
	}
	if maxSeq <= 0 {
		maxSeq = DefaultMaxSeqLen
	}
	if messageLen > maxMsg {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, messageLen, maxMsg)
	}
	if seqLen > maxSeq {
		return fmt.Errorf("%w: %d parts, limit %d", ErrTooLarge, seqLen, maxSeq)
	}
	return nil
}

// Complete reports whether the message is reassembled (or failed its final
// checksum, which Result reports).
func (d *Decoder) Complete() bool {
	return d.isSingle || (d.fountain != nil && d.fountain.done)
}

// Type is the UR type of the transfer, "" before the first part.
func (d *Decoder) Type() string { return d.urType }

// Progress is the share of fragments recovered, from 0 to 1.
func (d *Decoder) Progress() float64 {
	switch {
	case d.isSingle:
		return 1
	case d.fountain == nil:
		return 0
	}
	return d.fountain.progress()
}

// SeqLen is the number of fragments of the transfer, 0 before the first part.
func (d *Decoder) SeqLen() int {
	switch {
	case d.isSingle:
		return 1
	case d.fountain == nil:
		return 0
	}
	return d.fountain.seqLen
}

// Missing lists the fragments (numbered from 1) not recovered yet: part
// i ≤ SeqLen of a transfer carries fragment i alone. Nil once complete or
// before the first part.
func (d *Decoder) Missing() []int {
	if d.fountain == nil || d.fountain.done {
		return nil
	}
	var out []int
	for i := 0; i < d.fountain.seqLen; i++ {
		if _, ok := d.fountain.simple[i]; !ok {
			out = append(out, i+1)
		}
	}
	return out
}

// Received lists the sequence numbers of the multipart parts received,
// in order.
func (d *Decoder) Received() []int {
	if d.fountain == nil {
		return nil
	}
	out := make([]int, 0, len(d.fountain.seqs))
	for n := range d.fountain.seqs {
		out = append(out, int(n))
	}
	slices.Sort(out)
	return out
}

// Fits reports whether part s is one the complete, checksum-valid message
// of this decoder would produce: same transfer, and (for a multipart
// part) a fragment equal to the XOR of the message fragments its sequence
// number chooses. A part that does not fit was not made from this message.
func (d *Decoder) Fits(s string) bool {
	if !d.Complete() {
		return false
	}
	p, err := parse(s)
	if err != nil || p.urType != d.urType {
		return false
	}
	if d.isSingle {
		return p.isSingle && string(p.single) == string(d.single)
	}
	f := d.fountain
	if p.isSingle || f.err != nil || f.mismatch(p.part) != "" {
		return false
	}
	want := make([]byte, f.fragLen)
	for _, i := range chooseFragments(p.part.seqNum, f.seqLen, f.checksum) {
		xorInto(want, f.simple[i])
	}
	return string(want) == string(p.part.data)
}

// Result returns the message: the contents of the CBOR byte string the UR
// carries.
func (d *Decoder) Result() ([]byte, error) {
	if !d.Complete() {
		return nil, ErrIncomplete
	}
	payload := d.single
	if !d.isSingle {
		if d.fountain.err != nil {
			return nil, d.fountain.err
		}
		payload = d.fountain.message
	}
	msg, err := decodeCBORBytes(payload)
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), msg...), nil
}
