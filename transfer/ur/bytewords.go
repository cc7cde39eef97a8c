package ur

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strings"
)

// Style selects one of the three Bytewords forms.
type Style int

const (
	// Standard writes full words separated by spaces.
	Standard Style = iota
	// URI writes full words separated by hyphens.
	URI
	// Minimal writes the first and last letter of each word, no separator;
	// it is the form used in URs.
	Minimal
)

// The 256 Bytewords of BCR-2020-012, in byte order. Every word has four
// letters and its first and last letters identify it uniquely.
const wordlist = "able acid also apex aqua arch atom aunt away axis " +
	"back bald barn belt beta bias blue body brag brew bulb buzz " +
	"calm cash cats chef city claw code cola cook cost crux curl cusp cyan " +
	"dark data days deli dice diet door down draw drop drum dull duty " +
	"each easy echo edge epic even exam exit eyes " +
	"fact fair fern figs film fish fizz flap flew flux foxy free frog fuel fund " +
	"gala game gear gems gift girl glow good gray grim guru gush gyro " +
	"half hang hard hawk heat help high hill holy hope horn huts " +
	"iced idea idle inch inky into iris iron item " +
	"jade jazz join jolt jowl judo jugs jump junk jury " +
	"keep keno kept keys kick kiln king kite kiwi knob " +
	"lamb lava lazy leaf legs liar limp lion list logo loud love luau luck lung " +
	"main many math maze memo menu meow mild mint miss monk " +
	"nail navy need news next noon note numb " +
	"obey oboe omit onyx open oval owls " +
	"paid part peck play plus poem pool pose puff puma purr " +
	"quad quiz " +
	"race ramp real redo rich road rock roof ruby ruin runs rust " +
	"safe saga scar sets silk skew slot soap solo song stub surf swan " +
	"taco task taxi tent tied time tiny toil tomb toys trip tuna twin " +
	"ugly undo unit urge user " +
	"vast very veto vial vibe view visa void vows " +
	"wall wand warm wasp wave waxy webs what when whiz wolf work " +
	"yank yawn yell yoga yurt " +
	"zaps zero zest zinc zone zoom"

var (
	words      [256]string
	wordIndex  = map[string]byte{}
	minimalIdx [26 * 26]int16 // first*26+last letter -> byte, -1 if none
)

func init() {
	w := strings.Fields(wordlist)
	if len(w) != 256 {
		panic("ur: bytewords table must have 256 words")
	}
	for i := range minimalIdx {
		minimalIdx[i] = -1
	}
	for i, s := range w {
		words[i] = s
		wordIndex[s] = byte(i)
		k := int(s[0]-'a')*26 + int(s[3]-'a')
		if minimalIdx[k] != -1 {
			panic("ur: bytewords minimal forms are not unique")
		}
		minimalIdx[k] = int16(i)
	}
}

// EncodeBytewords encodes data followed by its CRC32 (big-endian) in the
// given style, in lowercase.
func EncodeBytewords(style Style, data []byte) string {
	buf := binary.BigEndian.AppendUint32(append([]byte(nil), data...), crc32.ChecksumIEEE(data))
	var b strings.Builder
	switch style {
	case Minimal:
		b.Grow(2 * len(buf))
		for _, c := range buf {
			w := words[c]
			b.WriteByte(w[0])
			b.WriteByte(w[3])
		}
	default:
		sep := byte(' ')
		if style == URI {
			sep = '-'
		}
		b.Grow(5 * len(buf))
		for i, c := range buf {
			if i > 0 {
				b.WriteByte(sep)
			}
			b.WriteString(words[c])
		}
	}
	return b.String()
}

// DecodeBytewords decodes text in the given style (either case), checks and
// strips the trailing CRC32, and returns the data.
func DecodeBytewords(style Style, text string) ([]byte, error) {
	text = strings.ToLower(text)
	var buf []byte
	switch style {
	case Minimal:
		if len(text)%2 != 0 {
			return nil, fmt.Errorf("%w: odd length %d", ErrInvalidBytewords, len(text))
		}
		buf = make([]byte, 0, len(text)/2)
		for i := 0; i < len(text); i += 2 {
			a, z := text[i], text[i+1]
			if a < 'a' || a > 'z' || z < 'a' || z > 'z' {
				return nil, fmt.Errorf("%w: bad character at %d", ErrInvalidBytewords, i)
			}
			v := minimalIdx[int(a-'a')*26+int(z-'a')]
			if v < 0 {
				return nil, fmt.Errorf("%w: unknown word at %d", ErrInvalidBytewords, i)
			}
			buf = append(buf, byte(v))
		}
	case Standard, URI:
		sep := " "
		if style == URI {
			sep = "-"
		}
		if text != "" {
			for i, w := range strings.Split(text, sep) {
				v, ok := wordIndex[w]
				if !ok {
					return nil, fmt.Errorf("%w: unknown word %d", ErrInvalidBytewords, i)
				}
				buf = append(buf, v)
			}
		}
	default:
		return nil, fmt.Errorf("%w: unknown style %d", ErrInvalidBytewords, style)
	}
	if len(buf) < 4 {
		return nil, fmt.Errorf("%w: too short", ErrInvalidBytewords)
	}
	data, sum := buf[:len(buf)-4], binary.BigEndian.Uint32(buf[len(buf)-4:])
	if crc32.ChecksumIEEE(data) != sum {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrInvalidBytewords)
	}
	return data, nil
}
