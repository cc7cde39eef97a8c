package ur

import (
	"fmt"
	"hash/crc32"
	"math"
	"slices"
)

// part is one fountain-coded part: the XOR of the fragments chosen for its
// sequence number.
type part struct {
	seqNum     uint32
	seqLen     int
	messageLen int
	checksum   uint32
	data       []byte
}

func (p *part) cbor() []byte {
	b := []byte{0x85}
	b = appendHead(b, 0, uint64(p.seqNum))
	b = appendHead(b, 0, uint64(p.seqLen))
	b = appendHead(b, 0, uint64(p.messageLen))
	b = appendHead(b, 0, uint64(p.checksum))
	b = appendHead(b, 2, uint64(len(p.data)))
	return append(b, p.data...)
}

func parsePartCBOR(b []byte) (*part, error) {
	major, n, b, err := readHead(b)
	if err != nil || major != 4 || n != 5 {
		return nil, fmt.Errorf("%w: not a five-element array", ErrInvalidPart)
	}
	var f [4]uint64
	for i := range f {
		if f[i], b, err = readUint(b); err != nil {
			return nil, fmt.Errorf("%w: field %d is not an unsigned integer", ErrInvalidPart, i)
		}
	}
	data, b, err := readBytes(b)
	if err != nil {
		return nil, fmt.Errorf("%w: fragment is not a byte string", ErrInvalidPart)
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: trailing bytes", ErrInvalidPart)
	}
	if f[0] == 0 || f[0] > math.MaxUint32 || f[1] == 0 || f[1] > math.MaxUint32 ||
		f[2] == 0 || f[2] > math.MaxInt32 || f[3] > math.MaxUint32 || len(data) == 0 {
		return nil, fmt.Errorf("%w: field out of range", ErrInvalidPart)
	}
	p := &part{seqNum: uint32(f[0]), seqLen: int(f[1]), messageLen: int(f[2]), checksum: uint32(f[3]), data: data}
	// A well-formed sequence has exactly ceil(messageLen/fragmentLen) parts.
	if want := (p.messageLen + len(data) - 1) / len(data); p.seqLen != want {
		return nil, fmt.Errorf("%w: sequence length %d does not fit message length %d and fragment length %d",
			ErrInvalidPart, p.seqLen, p.messageLen, len(data))
	}
	return p, nil
}

// nominalFragmentLen is the reference's choice: the smallest fragment count
// whose fragments are no longer than maxLen, each at least minLen long.
func nominalFragmentLen(messageLen, minLen, maxLen int) int {
	maxCount := messageLen / minLen
	fragLen := messageLen // one fragment when the message is shorter than minLen
	for count := 1; count <= maxCount; count++ {
		fragLen = (messageLen + count - 1) / count
		if fragLen <= maxLen {
			break
		}
	}
	return fragLen
}

type fountainEncoder struct {
	messageLen int
	checksum   uint32
	fragments  [][]byte
	seqNum     uint32
}

func newFountainEncoder(message []byte, maxFragmentLen, minFragmentLen int) *fountainEncoder {
	fragLen := nominalFragmentLen(len(message), minFragmentLen, maxFragmentLen)
	e := &fountainEncoder{messageLen: len(message), checksum: crc32.ChecksumIEEE(message)}
	for off := 0; off < len(message); off += fragLen {
		f := make([]byte, fragLen)
		copy(f, message[off:])
		e.fragments = append(e.fragments, f)
	}
	return e
}

func (e *fountainEncoder) nextPart() *part {
	e.seqNum++
	idx := chooseFragments(e.seqNum, len(e.fragments), e.checksum)
	data := make([]byte, len(e.fragments[0]))
	for _, i := range idx {
		xorInto(data, e.fragments[i])
	}
	return &part{seqNum: e.seqNum, seqLen: len(e.fragments), messageLen: e.messageLen, checksum: e.checksum, data: data}
}

func xorInto(dst, src []byte) {
	for i := range dst {
		dst[i] ^= src[i]
	}
}

// mixed is a part reduced to the fragments it still mixes.
type mixed struct {
	indexes []int // sorted
	data    []byte
}

func (m mixed) key() string { return fmt.Sprint(m.indexes) }

// isStrictSubset reports whether a ⊂ b (both sorted, a ≠ b).
func isStrictSubset(a, b []int) bool {
	if len(a) >= len(b) {
		return false
	}
	j := 0
	for _, x := range a {
		for j < len(b) && b[j] < x {
			j++
		}
		if j == len(b) || b[j] != x {
			return false
		}
	}
	return true
}

func difference(a, b []int) []int {
	var out []int
	for _, x := range a {
		if _, found := slices.BinarySearch(b, x); !found {
			out = append(out, x)
		}
	}
	return out
}

// reduce removes b's fragments from a when b's are a strict subset of a's.
func reduce(a, b mixed) mixed {
	if !isStrictSubset(b.indexes, a.indexes) {
		return a
	}
	d := append([]byte(nil), a.data...)
	xorInto(d, b.data)
	return mixed{indexes: difference(a.indexes, b.indexes), data: d}
}

// fountainDecoder reassembles a message from parts with the reference's
// peeling algorithm.
type fountainDecoder struct {
	seqLen     int
	messageLen int
	checksum   uint32
	fragLen    int

	simple   map[int][]byte
	mixed    map[string]mixed
	queue    []mixed
	received int             // parts accepted, duplicates included
	seqs     map[uint32]bool // sequence numbers of the parts accepted

	done    bool
	message []byte
	err     error
}

func newFountainDecoder(p *part) *fountainDecoder {
	return &fountainDecoder{
		seqLen: p.seqLen, messageLen: p.messageLen, checksum: p.checksum, fragLen: len(p.data),
		simple: map[int][]byte{}, mixed: map[string]mixed{}, seqs: map[uint32]bool{},
	}
}

// matches reports which field, if any, differs from this transfer.
func (d *fountainDecoder) mismatch(p *part) string {
	switch {
	case p.seqLen != d.seqLen:
		return "sequence length"
	case p.messageLen != d.messageLen:
		return "message length"
	case p.checksum != d.checksum:
		return "checksum"
	case len(p.data) != d.fragLen:
		return "fragment length"
	}
	return ""
}

func (d *fountainDecoder) receive(p *part) {
	if d.done {
		return
	}
	d.received++
	d.seqs[p.seqNum] = true
	d.queue = append(d.queue, mixed{indexes: chooseFragments(p.seqNum, p.seqLen, p.checksum), data: p.data})
	for !d.done && len(d.queue) > 0 {
		m := d.queue[0]
		d.queue = d.queue[1:]
		if len(m.indexes) == 1 {
			d.processSimple(m)
		} else {
			d.processMixed(m)
		}
	}
	d.queue = nil
}

func (d *fountainDecoder) processSimple(m mixed) {
	i := m.indexes[0]
	if _, dup := d.simple[i]; dup {
		return
	}
	d.simple[i] = m.data
	if len(d.simple) == d.seqLen {
		msg := make([]byte, 0, d.seqLen*d.fragLen)
		for j := 0; j < d.seqLen; j++ {
			msg = append(msg, d.simple[j]...)
		}
		msg = msg[:d.messageLen]
		d.done = true
		d.mixed = nil
		if crc32.ChecksumIEEE(msg) != d.checksum {
			d.err = ErrMessageChecksum
			return
		}
		d.message = msg
		return
	}
	d.reduceMixedBy(m)
}

func (d *fountainDecoder) reduceMixedBy(p mixed) {
	next := make(map[string]mixed, len(d.mixed))
	for _, k := range sortedKeys(d.mixed) {
		r := reduce(d.mixed[k], p)
		if len(r.indexes) == 1 {
			d.queue = append(d.queue, r)
		} else {
			next[r.key()] = r
		}
	}
	d.mixed = next
}

func (d *fountainDecoder) processMixed(m mixed) {
	if _, dup := d.mixed[m.key()]; dup {
		return
	}
	for _, i := range m.indexes {
		if s, ok := d.simple[i]; ok {
			m = reduce(m, mixed{indexes: []int{i}, data: s})
		}
	}
	for _, k := range sortedKeys(d.mixed) {
		m = reduce(m, d.mixed[k])
	}
	if len(m.indexes) == 1 {
		d.queue = append(d.queue, m)
		return
	}
	d.reduceMixedBy(m)
	d.mixed[m.key()] = m
}

func sortedKeys(m map[string]mixed) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// progress is the share of fragments known.
func (d *fountainDecoder) progress() float64 {
	if d.done {
		return 1
	}
	return float64(len(d.simple)) / float64(d.seqLen)
}
