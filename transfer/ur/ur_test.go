package ur

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

func parts(t testing.TB, typ string, msg []byte, maxFrag, n int) []string {
	t.Helper()
	enc, err := Encode(typ, msg, maxFrag)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, n)
	for i := range out {
		out[i] = enc.NextPart()
	}
	return out
}

func TestBytewordsStyles(t *testing.T) {
	data := make([]byte, 256)
	for i := range data {
		data[i] = byte(i)
	}
	for _, style := range []Style{Standard, URI, Minimal} {
		t.Run(fmt.Sprint(style), func(t *testing.T) {
			enc := EncodeBytewords(style, data)
			for _, s := range []string{enc, strings.ToUpper(enc)} {
				got, err := DecodeBytewords(style, s)
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("got %x, %v, want %x", got, err, data)
				}
			}
			empty, err := DecodeBytewords(style, EncodeBytewords(style, nil))
			if err != nil || len(empty) != 0 {
				t.Fatalf("empty: got %x, %v", empty, err)
			}
		})
	}
	if got, want := EncodeBytewords(Standard, []byte{0, 0xff}), "able zoom"; !strings.HasPrefix(got, want) {
		t.Errorf("standard: got %q, want prefix %q", got, want)
	}
	if got, want := EncodeBytewords(URI, []byte{0, 0xff}), "able-zoom-"; !strings.HasPrefix(got, want) {
		t.Errorf("uri: got %q, want prefix %q", got, want)
	}
}

func TestBytewordsErrors(t *testing.T) {
	good := EncodeBytewords(Minimal, []byte("kesrotate"))
	for name, tc := range map[string]struct {
		style Style
		text  string
	}{
		"odd":          {Minimal, good[1:]},
		"unknown pair": {Minimal, "qq" + good[2:]},
		"non-letter":   {Minimal, "1" + good[1:]},
		"short":        {Minimal, "aeadao"},
		"checksum":     {Minimal, good[:len(good)-2] + "ae"},
		"unknown word": {Standard, "able acid also apex zzzz"},
		"empty":        {URI, ""},
		"style":        {Style(9), good},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := DecodeBytewords(tc.style, tc.text); !errors.Is(err, ErrInvalidBytewords) {
				t.Errorf("got %v, want ErrInvalidBytewords", err)
			}
		})
	}
}

func TestValidType(t *testing.T) {
	for typ, want := range map[string]bool{
		"bytes": true, "kesrotate-bundle": true, "crypto-psbt": true, "a1-2": true,
		"": false, "Bytes": false, "a_b": false, "a/b": false, "a b": false, "é": false,
	} {
		if got := ValidType(typ); got != want {
			t.Errorf("ValidType(%q): got %v, want %v", typ, got, want)
		}
	}
	if _, err := Encode("Bad", []byte("x"), 100); !errors.Is(err, ErrInvalidType) {
		t.Errorf("Encode: got %v, want ErrInvalidType", err)
	}
	if _, err := EncodeSingle("a/b", []byte("x")); !errors.Is(err, ErrInvalidType) {
		t.Errorf("EncodeSingle: got %v, want ErrInvalidType", err)
	}
	if _, err := Encode("bytes", []byte("x"), 0); !errors.Is(err, ErrInvalidFragmentLen) {
		t.Errorf("Encode: got %v, want ErrInvalidFragmentLen", err)
	}
}

func TestNominalFragmentLen(t *testing.T) {
	for _, tc := range []struct{ msg, min, max, want int }{
		{259, 10, 30, 29}, {1027, 10, 100, 94}, {52, 10, 1000, 52},
		{5, 10, 100, 5}, {1, 10, 1, 1}, {100, 10, 10, 10}, {100, 10, 9, 10},
	} {
		if got := nominalFragmentLen(tc.msg, tc.min, tc.max); got != tc.want {
			t.Errorf("nominalFragmentLen(%d, %d, %d): got %d, want %d", tc.msg, tc.min, tc.max, got, tc.want)
		}
	}
}

// TestRoundTrip decodes lossy, shuffled, duplicated streams of messages of
// many sizes, including the ones kesrotate sends.
func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct{ size, frag int }{
		{0, 200}, {1, 200}, {9, 200}, {190, 200}, {250, 200}, {1000, 200}, {3000, 200},
		{4500, 180}, {100, 10}, {777, 33},
	} {
		t.Run(fmt.Sprintf("%d-%d", tc.size, tc.frag), func(t *testing.T) {
			msg := make([]byte, tc.size)
			for i := range msg {
				msg[i] = byte(rng.IntN(256))
			}
			enc, err := Encode("kesrotate-bundle", msg, tc.frag)
			if err != nil {
				t.Fatal(err)
			}
			stream := make([]string, 4*enc.SeqLen()+20)
			for i := range stream {
				stream[i] = enc.NextPart()
			}
			// drop a third, duplicate some, shuffle
			var sent []string
			for _, p := range stream {
				switch rng.IntN(6) {
				case 0, 1:
				case 2:
					sent = append(sent, p, p)
				default:
					sent = append(sent, p)
				}
			}
			rng.Shuffle(len(sent), func(i, j int) { sent[i], sent[j] = sent[j], sent[i] })
			d := NewDecoder()
			d.ExpectedType = "kesrotate-bundle"
			last := 0.0
			for _, p := range sent {
				if d.Complete() {
					break
				}
				if err := d.Receive(p); err != nil {
					t.Fatal(err)
				}
				if pr := d.Progress(); pr < last || pr > 1 {
					t.Fatalf("progress went from %v to %v", last, pr)
				}
				last = d.Progress()
			}
			got, err := d.Result()
			if err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("got %x, %v, want %x (seqLen %d, %d parts sent)", got, err, msg, enc.SeqLen(), len(sent))
			}
			if d.SeqLen() != enc.SeqLen() {
				t.Errorf("SeqLen: got %d, want %d", d.SeqLen(), enc.SeqLen())
			}
			// Parts after completion, duplicates included, are ignored.
			if err := d.Receive(stream[0]); err != nil {
				t.Errorf("after completion: got %v, want nil", err)
			}
		})
	}
}

func TestProgress(t *testing.T) {
	msg := bytes.Repeat([]byte("kes"), 100)
	ps := parts(t, "bytes", msg, 30, 12)
	var d Decoder
	if d.Progress() != 0 || d.SeqLen() != 0 || d.Type() != "" {
		t.Fatalf("fresh decoder: progress %v, seqLen %d, type %q", d.Progress(), d.SeqLen(), d.Type())
	}
	if _, err := d.Result(); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("got %v, want ErrIncomplete", err)
	}
	for i := 0; i < 3; i++ {
		if err := d.Receive(ps[i]); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := d.Progress(), 3.0/float64(d.SeqLen()); got != want {
		t.Errorf("progress: got %v, want %v", got, want)
	}
	if d.Complete() {
		t.Error("complete after 3 parts")
	}
}

// TestForeignPart checks that a part of another transfer is reported and
// leaves the decoder able to finish the first one.
func TestForeignPart(t *testing.T) {
	msg := bytes.Repeat([]byte{7}, 100)
	other := append(bytes.Repeat([]byte{7}, 99), 8)
	longer := bytes.Repeat([]byte{7}, 101)
	a := parts(t, "kesrotate-bundle", msg, 30, 20)
	single, _ := EncodeSingle("kesrotate-bundle", []byte("x"))
	for name, foreign := range map[string]string{
		"type":         parts(t, "kesrotate-snapshot", msg, 30, 2)[1],
		"checksum":     parts(t, "kesrotate-bundle", other, 30, 2)[1],
		"message len":  parts(t, "kesrotate-bundle", longer, 30, 2)[1],
		"seq len":      parts(t, "kesrotate-bundle", msg, 20, 2)[1],
		"single part":  single,
		"fragment len": parts(t, "kesrotate-bundle", bytes.Repeat([]byte{7}, 92), 30, 2)[1],
	} {
		t.Run(name, func(t *testing.T) {
			var d Decoder
			if err := d.Receive(a[0]); err != nil {
				t.Fatal(err)
			}
			if err := d.Receive(foreign); !errors.Is(err, ErrForeignPart) {
				t.Fatalf("got %v, want ErrForeignPart", err)
			}
			for _, p := range a[1:] {
				if d.Complete() {
					break
				}
				if err := d.Receive(p); err != nil {
					t.Fatal(err)
				}
			}
			got, err := d.Result()
			if err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("got %x, %v, want %x", got, err, msg)
			}
		})
	}
	t.Run("expected type", func(t *testing.T) {
		d := Decoder{ExpectedType: "kesrotate-enrollment"}
		if err := d.Receive(a[0]); !errors.Is(err, ErrForeignPart) {
			t.Fatalf("got %v, want ErrForeignPart", err)
		}
	})
	t.Run("multipart after single", func(t *testing.T) {
		var d Decoder
		if err := d.Receive(single); err != nil {
			t.Fatal(err)
		}
		if err := d.Receive(a[0]); !errors.Is(err, ErrForeignPart) {
			t.Fatalf("got %v, want ErrForeignPart", err)
		}
		if err := d.Receive(single); err != nil {
			t.Fatalf("same single part again: got %v, want nil", err)
		}
	})
}

// rewritePart re-encodes a part after changing its fields.
func rewritePart(t *testing.T, s string, edit func(p *part)) string {
	t.Helper()
	pp, err := parse(s)
	if err != nil {
		t.Fatal(err)
	}
	edit(pp.part)
	return fmt.Sprintf("ur:%s/%d-%d/%s", pp.urType, pp.part.seqNum, pp.part.seqLen, EncodeBytewords(Minimal, pp.part.cbor()))
}

func TestMessageChecksum(t *testing.T) {
	ps := parts(t, "bytes", bytes.Repeat([]byte("ab"), 50), 30, 4)
	var d Decoder
	for _, p := range ps {
		if err := d.Receive(rewritePart(t, p, func(p *part) { p.checksum ^= 1 })); err != nil {
			t.Fatal(err)
		}
	}
	if !d.Complete() {
		t.Fatal("not complete")
	}
	if _, err := d.Result(); !errors.Is(err, ErrMessageChecksum) {
		t.Fatalf("got %v, want ErrMessageChecksum", err)
	}
}

func TestReceiveErrors(t *testing.T) {
	ps := parts(t, "bytes", bytes.Repeat([]byte("ab"), 50), 30, 2)
	body := ps[0][strings.LastIndex(ps[0], "/")+1:]
	notBytes := "ur:bytes/" + EncodeBytewords(Minimal, []byte{0x01}) // CBOR uint, not bytes
	bw := func(b ...byte) string { return EncodeBytewords(Minimal, b) }
	for _, tc := range []struct {
		name, part string
		want       error
	}{
		{"scheme", "xr:bytes/" + body, ErrInvalidScheme},
		{"no body", "ur:bytes", ErrInvalidPath},
		{"too many", "ur:bytes/1-4/x/" + body, ErrInvalidPath},
		{"type", "ur:by_tes/1-4/" + body, ErrInvalidType},
		{"empty type", "ur:/1-4/" + body, ErrInvalidType},
		{"seq no dash", "ur:bytes/14/" + body, ErrInvalidPath},
		{"seq zero", "ur:bytes/0-4/" + body, ErrInvalidPath},
		{"seq neg", "ur:bytes/1--4/" + body, ErrInvalidPath},
		{"seq huge", "ur:bytes/1-99999999999/" + body, ErrInvalidPath},
		{"seq mismatch", "ur:bytes/2-4/" + body, ErrInvalidPart},
		{"bytewords", "ur:bytes/1-4/" + body[:len(body)-2], ErrInvalidBytewords},
		{"not array", "ur:bytes/1-4/" + bw(0x84, 1, 4, 0x18, 102, 0), ErrInvalidPart},
		{"trailing", "ur:bytes/1-1/" + bw(0x85, 1, 1, 1, 0, 0x41, 0, 0), ErrInvalidPart},
		{"zero seq in body", "ur:bytes/1-1/" + bw(0x85, 0, 1, 1, 0, 0x41, 0), ErrInvalidPart},
		{"empty fragment", "ur:bytes/1-1/" + bw(0x85, 1, 1, 1, 0, 0x40), ErrInvalidPart},
		{"fragment not bytes", "ur:bytes/1-1/" + bw(0x85, 1, 1, 1, 0, 0x61, 0), ErrInvalidPart},
		{"seqlen inconsistent", "ur:bytes/1-2/" + bw(0x85, 1, 2, 1, 0, 0x41, 0), ErrInvalidPart},
		{"truncated int", "ur:bytes/1-1/" + bw(0x85, 0x1a, 0, 0), ErrInvalidPart},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d Decoder
			if err := d.Receive(tc.part); !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
			if d.Complete() || d.Progress() != 0 || d.Type() != "" {
				t.Errorf("decoder changed by a bad part")
			}
		})
	}
	t.Run("payload not bytes", func(t *testing.T) {
		var d Decoder
		if err := d.Receive(notBytes); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Result(); !errors.Is(err, ErrInvalidPayload) {
			t.Errorf("got %v, want ErrInvalidPayload", err)
		}
		if _, _, err := Decode(notBytes); !errors.Is(err, ErrInvalidPayload) {
			t.Errorf("Decode: got %v, want ErrInvalidPayload", err)
		}
	})
	t.Run("Decode multipart", func(t *testing.T) {
		if _, _, err := Decode(ps[0]); !errors.Is(err, ErrInvalidPath) {
			t.Errorf("got %v, want ErrInvalidPath", err)
		}
	})
}

func TestLimits(t *testing.T) {
	msg := make([]byte, 5000)
	ps := parts(t, "bytes", msg, 100, 1)
	for _, d := range []*Decoder{{MaxMessageLen: 4000}, {MaxSeqLen: 40}} {
		if err := d.Receive(ps[0]); !errors.Is(err, ErrTooLarge) {
			t.Errorf("got %v, want ErrTooLarge", err)
		}
	}
	single, _ := EncodeSingle("bytes", msg)
	d := Decoder{MaxMessageLen: 4000}
	if err := d.Receive(single); !errors.Is(err, ErrTooLarge) {
		t.Errorf("single: got %v, want ErrTooLarge", err)
	}
}

func TestInspect(t *testing.T) {
	enc, err := Encode("bytes", bytes.Repeat([]byte("abc"), 100), 40)
	if err != nil {
		t.Fatal(err)
	}
	part := enc.NextPart()
	got, err := Inspect(ToUpper(part))
	if err != nil {
		t.Fatal(err)
	}
	want := PartInfo{Type: "bytes", SeqNum: 1, SeqLen: enc.SeqLen(), MessageLen: 303, Checksum: got.Checksum, FragmentLen: 38}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	single, _ := EncodeSingle("bytes", []byte("x"))
	if got, err := Inspect(single); err != nil || got != (PartInfo{Type: "bytes", Single: true}) {
		t.Errorf("single: got %+v, %v", got, err)
	}
	if _, err := Inspect("ur:bytes/1-2/xx"); err == nil {
		t.Error("a malformed part inspected without error")
	}
}
