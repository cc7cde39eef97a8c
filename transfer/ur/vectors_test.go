package ur

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"testing"
)

type vectors struct {
	XoshiroWolf []uint64 `json:"xoshiro_wolf_next_mod_100"`
	ShuffleWolf []int    `json:"shuffle_wolf_1_to_10"`
	SamplerWolf []int    `json:"sampler_weights_1_2_4_8_wolf_first36"`
	Bytewords   struct {
		BytesHex    string `json:"bytes_hex"`
		Encoded     string `json:"encoded"`
		BadChecksum string `json:"bad_checksum"`
	} `json:"bytewords_minimal"`
	ChooseFragments struct {
		MessageLen     int              `json:"message_len"`
		MinFragmentLen int              `json:"min_fragment_len"`
		MaxFragmentLen int              `json:"max_fragment_len"`
		BySeqNum       map[string][]int `json:"fragments_by_seq_num"`
	} `json:"choose_fragments"`
	Multipart struct {
		MessageLen     int      `json:"message_len"`
		MaxFragmentLen int      `json:"max_fragment_len"`
		MinFragmentLen int      `json:"min_fragment_len"`
		URType         string   `json:"ur_type"`
		Parts          []string `json:"first_20_parts"`
	} `json:"multipart_encoder"`
	Single struct {
		MessageLen     int    `json:"message_len"`
		MaxFragmentLen int    `json:"max_fragment_len"`
		UR             string `json:"ur"`
	} `json:"single_part"`
}

// repoRoot is the module root, two levels above this package.
func repoRoot(t testing.TB) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate test file")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func loadVectors(t testing.TB) *vectors {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "..", "shared", "testvectors", "bc-ur")
	b, err := os.ReadFile(filepath.Join(dir, "vectors.json"))
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("bc-ur vectors missing in CI: %v", err)
		}
		t.Skipf("bc-ur vectors not found in %s (../shared/testvectors): %v", dir, err)
	}
	var v vectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return &v
}

// makeMessage is the reference test suite's message generator.
func makeMessage(n int, seed string) []byte {
	return newXoshiro([]byte(seed)).nextData(n)
}

func TestVectorXoshiro(t *testing.T) {
	v := loadVectors(t)
	rng := newXoshiro([]byte("Wolf"))
	for i, want := range v.XoshiroWolf {
		if got := rng.next() % 100; got != want {
			t.Fatalf("draw %d: got %d, want %d", i, got, want)
		}
	}
}

func TestVectorShuffle(t *testing.T) {
	v := loadVectors(t)
	items := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	got := shuffle(items, len(items), newXoshiro([]byte("Wolf")))
	if !slices.Equal(got, v.ShuffleWolf) {
		t.Fatalf("got %v, want %v", got, v.ShuffleWolf)
	}
	// The first n of a full shuffle equal a shuffle stopped at n.
	for n := 0; n <= len(items); n++ {
		if got := shuffle(items, n, newXoshiro([]byte("Wolf"))); !slices.Equal(got, v.ShuffleWolf[:n]) {
			t.Errorf("n=%d: got %v, want %v", n, got, v.ShuffleWolf[:n])
		}
	}
}

func TestVectorSampler(t *testing.T) {
	v := loadVectors(t)
	s := newSampler([]float64{1, 2, 4, 8})
	rng := newXoshiro([]byte("Wolf"))
	for i, want := range v.SamplerWolf {
		if got := s.next(rng); got != want {
			t.Fatalf("draw %d: got %d, want %d", i, got, want)
		}
	}
}

func TestVectorBytewordsMinimal(t *testing.T) {
	v := loadVectors(t)
	data, _ := hex.DecodeString(v.Bytewords.BytesHex)
	if got := EncodeBytewords(Minimal, data); got != v.Bytewords.Encoded {
		t.Errorf("encode: got %q, want %q", got, v.Bytewords.Encoded)
	}
	got, err := DecodeBytewords(Minimal, v.Bytewords.Encoded)
	if err != nil || !slices.Equal(got, data) {
		t.Errorf("decode: got %x, %v, want %x", got, err, data)
	}
	if _, err := DecodeBytewords(Minimal, v.Bytewords.BadChecksum); !errorsIs(err, ErrInvalidBytewords) {
		t.Errorf("bad checksum: got %v, want ErrInvalidBytewords", err)
	}
}

func TestVectorChooseFragments(t *testing.T) {
	v := loadVectors(t)
	c := v.ChooseFragments
	msg := makeMessage(c.MessageLen, "Wolf")
	enc := newFountainEncoder(msg, c.MaxFragmentLen, c.MinFragmentLen)
	checksum := enc.checksum
	seqLen := len(enc.fragments)
	for k, want := range c.BySeqNum {
		n, _ := strconv.Atoi(k)
		t.Run(k, func(t *testing.T) {
			if got := chooseFragments(uint32(n), seqLen, checksum); !slices.Equal(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

func TestVectorMultipart(t *testing.T) {
	v := loadVectors(t)
	m := v.Multipart
	if m.MinFragmentLen != MinFragmentLen {
		t.Fatalf("vector min fragment length %d, package uses %d", m.MinFragmentLen, MinFragmentLen)
	}
	msg := makeMessage(m.MessageLen, "Wolf")
	enc, err := Encode(m.URType, msg, m.MaxFragmentLen)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range m.Parts {
		if got := enc.NextPart(); got != want {
			t.Errorf("part %d: got %q, want %q", i+1, got, want)
		}
	}
	// The vector parts decode back to the message; so does the stream from
	// any later part on (beyond the vector, from our encoder), in uppercase.
	for _, start := range []int{0, 5, 9, 15} {
		t.Run("from"+strconv.Itoa(start), func(t *testing.T) {
			enc, _ := Encode(m.URType, msg, m.MaxFragmentLen)
			var d Decoder
			for i := 0; i < 200 && !d.Complete(); i++ {
				p := enc.NextPart()
				if i < len(m.Parts) && p != m.Parts[i] {
					t.Fatalf("part %d differs from vector", i+1)
				}
				if i < start {
					continue
				}
				if err := d.Receive(ToUpper(p)); err != nil {
					t.Fatal(err)
				}
			}
			got, err := d.Result()
			if err != nil || !slices.Equal(got, msg) {
				t.Fatalf("got %x, %v, want %x", got, err, msg)
			}
			if d.Type() != m.URType {
				t.Errorf("type: got %q, want %q", d.Type(), m.URType)
			}
		})
	}
}

func TestVectorSinglePart(t *testing.T) {
	v := loadVectors(t)
	s := v.Single
	msg := makeMessage(s.MessageLen, "Wolf")
	got, err := EncodeSingle("bytes", msg)
	if err != nil || got != s.UR {
		t.Fatalf("EncodeSingle: got %q, %v, want %q", got, err, s.UR)
	}
	enc, err := Encode("bytes", msg, s.MaxFragmentLen)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if got := enc.NextPart(); got != s.UR {
			t.Fatalf("NextPart %d: got %q, want %q", i, got, s.UR)
		}
	}
	typ, dec, err := Decode(s.UR)
	if err != nil || typ != "bytes" || !slices.Equal(dec, msg) {
		t.Fatalf("Decode: got %q %x %v, want bytes %x", typ, dec, err, msg)
	}
}
