package ur

import (
	"crypto/sha256"
	"encoding/binary"
	"math"
	"math/bits"
	"slices"
)

// xoshiro is the Xoshiro256** generator as bc-ur uses it: the 256-bit state
// is the SHA-256 digest of a seed, read as four big-endian words.
type xoshiro struct{ s [4]uint64 }

func newXoshiro(seed []byte) *xoshiro {
	d := sha256.Sum256(seed)
	var x xoshiro
	for i := range x.s {
		x.s[i] = binary.BigEndian.Uint64(d[8*i:])
	}
	return &x
}

func (x *xoshiro) next() uint64 {
	s := &x.s
	result := bits.RotateLeft64(s[1]*5, 7) * 9
	t := s[1] << 17
	s[2] ^= s[0]
	s[3] ^= s[1]
	s[1] ^= s[2]
	s[0] ^= s[3]
	s[2] ^= t
	s[3] = bits.RotateLeft64(s[3], 45)
	return result
}

// nextDouble returns a value in [0, 1) computed in float64 exactly as the
// reference does (the uint64 rounded to a double, divided by 2^64).
func (x *xoshiro) nextDouble() float64 {
	return float64(x.next()) / (float64(math.MaxUint64) + 1)
}

// nextInt returns a value in [low, high].
func (x *xoshiro) nextInt(low, high uint64) uint64 {
	return uint64(x.nextDouble()*float64(high-low+1)) + low
}

func (x *xoshiro) nextByte() byte { return byte(x.nextInt(0, 255)) }

func (x *xoshiro) nextData(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = x.nextByte()
	}
	return b
}

// sampler draws indexes with given weights by Vose's alias method, built in
// the same order as the reference so that draws agree.
type sampler struct {
	probs   []float64
	aliases []int
}

func newSampler(weights []float64) *sampler {
	n := len(weights)
	var sum float64
	for _, w := range weights {
		sum += w
	}
	p := make([]float64, n)
	for i, w := range weights {
		p[i] = w * float64(n) / sum
	}
	var small, large []int
	for i := n - 1; i >= 0; i-- {
		if p[i] < 1 {
			small = append(small, i)
		} else {
			large = append(large, i)
		}
	}
	s := &sampler{probs: make([]float64, n), aliases: make([]int, n)}
	for len(small) > 0 && len(large) > 0 {
		a := small[len(small)-1]
		small = small[:len(small)-1]
		g := large[len(large)-1]
		large = large[:len(large)-1]
		s.probs[a] = p[a]
		s.aliases[a] = g
		p[g] += p[a] - 1
		if p[g] < 1 {
			small = append(small, g)
		} else {
			large = append(large, g)
		}
	}
	for _, i := range large {
		s.probs[i] = 1
	}
	for _, i := range small {
		s.probs[i] = 1
	}
	return s
}

func (s *sampler) next(rng *xoshiro) int {
	r1 := rng.nextDouble()
	r2 := rng.nextDouble()
	i := int(float64(len(s.probs)) * r1)
	if r2 < s.probs[i] {
		return i
	}
	return s.aliases[i]
}

// shuffle returns the first n items of the reference's shuffle of items:
// repeatedly remove a uniformly chosen remaining item. Stopping early draws
// the same first n items as the full shuffle.
func shuffle(items []int, n int, rng *xoshiro) []int {
	remaining := append([]int(nil), items...)
	out := make([]int, 0, n)
	for len(out) < n && len(remaining) > 0 {
		i := int(rng.nextInt(0, uint64(len(remaining)-1)))
		out = append(out, remaining[i])
		remaining = append(remaining[:i], remaining[i+1:]...)
	}
	return out
}

func chooseDegree(seqLen int, rng *xoshiro) int {
	w := make([]float64, seqLen)
	for i := range w {
		w[i] = 1 / float64(i+1)
	}
	return newSampler(w).next(rng) + 1
}

// chooseFragments returns the sorted indexes of the fragments mixed into part
// seqNum (1-based) of a message of seqLen fragments with the given CRC32.
func chooseFragments(seqNum uint32, seqLen int, checksum uint32) []int {
	if int64(seqNum) <= int64(seqLen) {
		return []int{int(seqNum) - 1}
	}
	var seed [8]byte
	binary.BigEndian.PutUint32(seed[:4], seqNum)
	binary.BigEndian.PutUint32(seed[4:], checksum)
	rng := newXoshiro(seed[:])
	degree := chooseDegree(seqLen, rng)
	all := make([]int, seqLen)
	for i := range all {
		all[i] = i
	}
	idx := shuffle(all, degree, rng)
	slices.Sort(idx)
	return idx
}
