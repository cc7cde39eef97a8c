package testnode

// A small CBOR writer and reader for the node-to-client wire, written from
// RFC 8949 and from the way the node's encoders (cborg, as driven by
// ouroboros-network and ouroboros-consensus) write: definite lengths,
// shortest heads. It shares no code with any client in this repository on
// purpose: a decoding bug common to the agent and its test double would hide
// on both sides.

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// CBOR major types.
const (
	majUint   = 0
	majNeg    = 1
	majBytes  = 2
	majText   = 3
	majArray  = 4
	majMap    = 5
	majTag    = 6
	majSimple = 7
)

// enc appends CBOR items to a byte slice.
type enc struct{ b []byte }

func (e *enc) head(major byte, n uint64) {
	m := major << 5
	switch {
	case n < 24:
		e.b = append(e.b, m|byte(n))
	case n <= math.MaxUint8:
		e.b = append(e.b, m|24, byte(n))
	case n <= math.MaxUint16:
		e.b = append(e.b, m|25, byte(n>>8), byte(n))
	case n <= math.MaxUint32:
		e.b = append(e.b, m|26, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	default:
		e.b = append(e.b, m|27, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32),
			byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

func (e *enc) uint(n uint64) { e.head(majUint, n) }

func (e *enc) int(n int64) {
	if n >= 0 {
		e.head(majUint, uint64(n))
		return
	}
	e.head(majNeg, uint64(-(n + 1)))
}

func (e *enc) bytes(b []byte) { e.head(majBytes, uint64(len(b))); e.b = append(e.b, b...) }
func (e *enc) text(s string)  { e.head(majText, uint64(len(s))); e.b = append(e.b, s...) }
func (e *enc) array(n int)    { e.head(majArray, uint64(n)) }
func (e *enc) mapHead(n int)  { e.head(majMap, uint64(n)) }
func (e *enc) tag(n uint64)   { e.head(majTag, n) }
func (e *enc) raw(b []byte)   { e.b = append(e.b, b...) }

func (e *enc) bool(v bool) {
	if v {
		e.b = append(e.b, 0xf5)
		return
	}
	e.b = append(e.b, 0xf4)
}

// errShort says the input ends inside an item: wait for more bytes.
var errShort = errors.New("cbor: input ends inside an item")

// dec reads CBOR items from a byte slice.
type dec struct {
	b   []byte
	off int
}

// headInfo is one item head. For an indefinite length, indef is set.
type headInfo struct {
	major byte
	info  byte
	arg   uint64
	indef bool
}

func (d *dec) head() (headInfo, error) {
	if d.off >= len(d.b) {
		return headInfo{}, errShort
	}
	ib := d.b[d.off]
	h := headInfo{major: ib >> 5, info: ib & 31}
	d.off++
	var n int
	switch {
	case h.info < 24:
		h.arg = uint64(h.info)
		return h, nil
	case h.info == 24:
		n = 1
	case h.info == 25:
		n = 2
	case h.info == 26:
		n = 4
	case h.info == 27:
		n = 8
	case h.info == 31:
		if h.major == majUint || h.major == majNeg || h.major == majTag {
			return headInfo{}, fmt.Errorf("cbor: indefinite length on major type %d", h.major)
		}
		h.indef = true
		return h, nil
	default:
		return headInfo{}, fmt.Errorf("cbor: reserved additional information %d", h.info)
	}
	if d.off+n > len(d.b) {
		return headInfo{}, errShort
	}
	for _, c := range d.b[d.off : d.off+n] {
		h.arg = h.arg<<8 | uint64(c)
	}
	d.off += n
	return h, nil
}

// listLen reads a definite array head, as cborg's decodeListLen does (it
// refuses an indefinite one).
func (d *dec) listLen() (int, error) {
	h, err := d.head()
	if err != nil {
		return 0, err
	}
	if h.major != majArray || h.indef {
		return 0, fmt.Errorf("expected list len, got major type %d", h.major)
	}
	if h.arg > math.MaxInt32 {
		return 0, fmt.Errorf("list length %d too large", h.arg)
	}
	return int(h.arg), nil
}

// word reads an unsigned integer, as cborg's decodeWord does.
func (d *dec) word() (uint64, error) {
	h, err := d.head()
	if err != nil {
		return 0, err
	}
	if h.major != majUint {
		return 0, fmt.Errorf("expected word, got major type %d", h.major)
	}
	return h.arg, nil
}

// word8 reads an unsigned integer below 256, as cborg's decodeWord8 does.
func (d *dec) word8() (uint8, error) {
	w, err := d.word()
	if err != nil {
		return 0, err
	}
	if w > math.MaxUint8 {
		return 0, fmt.Errorf("expected word8, got %d", w)
	}
	return uint8(w), nil
}

// byteString reads a definite byte string.
func (d *dec) byteString() ([]byte, error) {
	h, err := d.head()
	if err != nil {
		return nil, err
	}
	if h.major != majBytes || h.indef {
		return nil, fmt.Errorf("expected bytes, got major type %d", h.major)
	}
	if uint64(len(d.b)-d.off) < h.arg {
		return nil, errShort
	}
	b := d.b[d.off : d.off+int(h.arg)]
	d.off += int(h.arg)
	return b, nil
}

// skip reads past one complete item.
func (d *dec) skip() error {
	_, err := d.term(0)
	return err
}

// itemLen is the length of the first complete item in b, or errShort.
func itemLen(b []byte) (int, error) {
	d := dec{b: b}
	if err := d.skip(); err != nil {
		return 0, err
	}
	return d.off, nil
}

// maxDepth bounds nesting so that hostile input cannot exhaust the stack.
const maxDepth = 256

// term is a decoded CBOR item, kept as cborg's Codec.CBOR.Term would hold
// it so that its Haskell Show form can be rendered (handshake decode errors
// quote it).
type term struct {
	kind  termKind
	i     int64    // tInt
	big   *big.Int // tInteger
	s     []byte   // tBytes, tString
	items []term   // tList, tMap (key, value, key, value, …)
	tag   uint64   // tTagged: items[0] is the content
	b     bool     // tBool
	simp  uint8    // tSimple
	f     float64  // tHalf, tFloat, tDouble
	indef bool     // TListI, TMapI, TBytesI, TStringI
}

type termKind int

const (
	tInt termKind = iota
	tInteger
	tBytes
	tString
	tList
	tMap
	tTagged
	tBool
	tNull
	tSimple
	tHalf
	tFloat
	tDouble
)

func (d *dec) term(depth int) (term, error) {
	if depth > maxDepth {
		return term{}, errors.New("cbor: nested too deeply")
	}
	start := d.off
	h, err := d.head()
	if err != nil {
		return term{}, err
	}
	switch h.major {
	case majUint:
		if h.arg <= math.MaxInt64 {
			return term{kind: tInt, i: int64(h.arg)}, nil
		}
		return term{kind: tInteger, big: new(big.Int).SetUint64(h.arg)}, nil
	case majNeg:
		if h.arg <= math.MaxInt64 {
			return term{kind: tInt, i: -1 - int64(h.arg)}, nil
		}
		v := new(big.Int).SetUint64(h.arg)
		return term{kind: tInteger, big: v.Neg(v.Add(v, big.NewInt(1)))}, nil
	case majBytes, majText:
		kind := tBytes
		if h.major == majText {
			kind = tString
		}
		if !h.indef {
			if uint64(len(d.b)-d.off) < h.arg {
				return term{}, errShort
			}
			s := d.b[d.off : d.off+int(h.arg)]
			d.off += int(h.arg)
			return term{kind: kind, s: s}, nil
		}
		t := term{kind: kind, indef: true}
		for {
			if d.off >= len(d.b) {
				return term{}, errShort
			}
			if d.b[d.off] == 0xff {
				d.off++
				return t, nil
			}
			c, err := d.term(depth + 1)
			if err != nil {
				return term{}, err
			}
			if c.kind != kind || c.indef {
				return term{}, errors.New("cbor: bad chunk in indefinite string")
			}
			t.s = append(t.s, c.s...)
		}
	case majArray, majMap:
		kind := tList
		per := 1
		if h.major == majMap {
			kind, per = tMap, 2
		}
		t := term{kind: kind, indef: h.indef}
		if h.indef {
			for {
				if d.off >= len(d.b) {
					return term{}, errShort
				}
				if d.b[d.off] == 0xff {
					d.off++
					return t, nil
				}
				for range per {
					c, err := d.term(depth + 1)
					if err != nil {
						return term{}, err
					}
					t.items = append(t.items, c)
				}
			}
		}
		if h.arg > uint64(len(d.b)) { // each item takes at least one byte
			return term{}, errShort
		}
		for range int(h.arg) * per {
			c, err := d.term(depth + 1)
			if err != nil {
				return term{}, err
			}
			t.items = append(t.items, c)
		}
		return t, nil
	case majTag:
		c, err := d.term(depth + 1)
		if err != nil {
			return term{}, err
		}
		if (h.arg == 2 || h.arg == 3) && c.kind == tBytes {
			v := new(big.Int).SetBytes(c.s)
			if h.arg == 3 {
				v.Neg(v.Add(v, big.NewInt(1)))
			}
			if v.IsInt64() {
				return term{kind: tInt, i: v.Int64()}, nil
			}
			return term{kind: tInteger, big: v}, nil
		}
		return term{kind: tTagged, tag: h.arg, items: []term{c}}, nil
	default: // majSimple
		switch {
		case h.info == 20 || h.info == 21:
			return term{kind: tBool, b: h.info == 21}, nil
		case h.info == 22:
			return term{kind: tNull}, nil
		case h.info < 24 || h.info == 24:
			return term{kind: tSimple, simp: uint8(h.arg)}, nil
		case h.info == 25:
			return term{kind: tHalf, f: halfToFloat(uint16(h.arg))}, nil
		case h.info == 26:
			return term{kind: tFloat, f: float64(math.Float32frombits(uint32(h.arg)))}, nil
		case h.info == 27:
			return term{kind: tDouble, f: math.Float64frombits(h.arg)}, nil
		}
		d.off = start
		return term{}, fmt.Errorf("cbor: unexpected break or simple value 0x%02x", d.b[start])
	}
}

func halfToFloat(h uint16) float64 {
	exp := int(h>>10) & 0x1f
	mant := float64(h & 0x3ff)
	var v float64
	switch exp {
	case 0:
		v = math.Ldexp(mant, -24)
	case 31:
		if mant == 0 {
			v = math.Inf(1)
		} else {
			v = math.NaN()
		}
	default:
		v = math.Ldexp(mant+1024, exp-25)
	}
	if h&0x8000 != 0 {
		v = -v
	}
	return v
}

// hsShow renders a term as Haskell's derived Show instance of cborg's Term
// does (Codec.CBOR.Term, "deriving Show"): ouroboros-network quotes it in
// the handshake's "unknown encoding: …" decode error. prec is the Haskell
// precedence context (11 for a constructor argument).
func (t term) hsShow(prec int) string {
	var s string
	switch t.kind {
	case tInt:
		s = "TInt " + hsShowInt(t.i)
	case tInteger:
		v := t.big.String()
		if t.big.Sign() < 0 {
			v = "(" + v + ")"
		}
		s = "TInteger " + v
	case tBytes:
		s = "TBytes " + hsShowString(t.s, false)
		if t.indef {
			s = "TBytesI " + hsShowString(t.s, false)
		}
	case tString:
		s = "TString " + hsShowString(t.s, true)
		if t.indef {
			s = "TStringI " + hsShowString(t.s, true)
		}
	case tList:
		parts := make([]string, len(t.items))
		for i, c := range t.items {
			parts[i] = c.hsShow(0)
		}
		name := "TList"
		if t.indef {
			name = "TListI"
		}
		s = name + " [" + strings.Join(parts, ",") + "]"
	case tMap:
		parts := make([]string, 0, len(t.items)/2)
		for i := 0; i+1 < len(t.items); i += 2 {
			parts = append(parts, "("+t.items[i].hsShow(0)+","+t.items[i+1].hsShow(0)+")")
		}
		name := "TMap"
		if t.indef {
			name = "TMapI"
		}
		s = name + " [" + strings.Join(parts, ",") + "]"
	case tTagged:
		s = "TTagged " + strconv.FormatUint(t.tag, 10) + " " + t.items[0].hsShow(11)
	case tBool:
		s = "TBool False"
		if t.b {
			s = "TBool True"
		}
	case tNull:
		return "TNull"
	case tSimple:
		s = "TSimple " + strconv.Itoa(int(t.simp))
	case tHalf:
		s = "THalf " + hsShowFloat(t.f)
	case tFloat:
		s = "TFloat " + hsShowFloat(t.f)
	case tDouble:
		s = "TDouble " + hsShowFloat(t.f)
	}
	if prec > 10 {
		return "(" + s + ")"
	}
	return s
}

func hsShowInt(i int64) string {
	if i < 0 {
		return "(" + strconv.FormatInt(i, 10) + ")"
	}
	return strconv.FormatInt(i, 10)
}

func hsShowFloat(f float64) string {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eIN") {
		s += ".0"
	}
	if f < 0 {
		s = "(" + s + ")"
	}
	return s
}

// asciiNames are the escapes Haskell's showLitString uses for control
// characters.
var asciiNames = [...]string{"NUL", "SOH", "STX", "ETX", "EOT", "ENQ", "ACK", "a", "b", "t", "n", "v", "f", "r", "SO", "SI",
	"DLE", "DC1", "DC2", "DC3", "DC4", "NAK", "SYN", "ETB", "CAN", "EM", "SUB", "ESC", "FS", "GS", "RS", "US"}

// hsShowString renders a string literal as Haskell's show does: for Text
// (utf8 true) characters beyond ASCII are decimal escapes of their code
// points; for a ByteString every byte is one Char.
func hsShowString(b []byte, utf8 bool) string {
	var runes []rune
	if utf8 {
		runes = []rune(string(b))
	} else {
		runes = make([]rune, len(b))
		for i, c := range b {
			runes[i] = rune(c)
		}
	}
	var sb strings.Builder
	sb.WriteByte('"')
	for i, r := range runes {
		next := rune(-1)
		if i+1 < len(runes) {
			next = runes[i+1]
		}
		switch {
		case r == '"':
			sb.WriteString(`\"`)
		case r == '\\':
			sb.WriteString(`\\`)
		case r >= ' ' && r < 0x7f:
			sb.WriteRune(r)
		case r < ' ':
			sb.WriteString(`\` + asciiNames[r])
			if r == 0x0e && next == 'H' { // \SO followed by H would read as \SOH
				sb.WriteString(`\&`)
			}
		case r == 0x7f:
			sb.WriteString(`\DEL`)
		default:
			sb.WriteString(`\` + strconv.Itoa(int(r)))
			if next >= '0' && next <= '9' {
				sb.WriteString(`\&`)
			}
		}
	}
	sb.WriteByte('"')
	return sb.String()
}
