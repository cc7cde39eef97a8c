package ur

import (
	"bytes"
	"strings"
	"testing"
)

func addVectorSeeds(f *testing.F, add func(string)) {
	v := loadVectors(f)
	for _, p := range v.Multipart.Parts {
		add(p)
	}
	add(v.Single.UR)
	add(strings.ToUpper(v.Multipart.Parts[12]))
	add("ur:bytes/" + v.Bytewords.Encoded)
	add("ur:bytes/1-1/" + v.Bytewords.BadChecksum)
}

// FuzzParse checks that any accepted part re-encodes to itself.
func FuzzParse(f *testing.F) {
	addVectorSeeds(f, func(s string) { f.Add(s) })
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parse(s)
		if err != nil {
			return
		}
		if p.isSingle {
			if got := "ur:" + p.urType + "/" + EncodeBytewords(Minimal, p.single); !strings.EqualFold(got, s) {
				t.Fatalf("single part re-encodes to %q, from %q", got, s)
			}
			return
		}
		q, err := parse("ur:" + p.urType + "/1-1/" + EncodeBytewords(Minimal, p.part.cbor()))
		if err == nil || p.part.seqNum == 1 && p.part.seqLen == 1 {
			if err != nil || q.part.seqNum != p.part.seqNum || q.part.checksum != p.part.checksum ||
				q.part.messageLen != p.part.messageLen || !bytes.Equal(q.part.data, p.part.data) {
				t.Fatalf("re-parse differs: %v", err)
			}
		}
	})
}

// FuzzDecoder feeds newline-separated parts to one decoder: it must never
// panic, and a completed transfer either fails its checksum or yields a
// message whose re-encoding has the same first part.
func FuzzDecoder(f *testing.F) {
	v := loadVectors(f)
	f.Add(strings.Join(v.Multipart.Parts[:3], "\n"))
	f.Add(strings.Join(v.Multipart.Parts[9:12], "\n"))
	f.Add(v.Single.UR + "\n" + v.Multipart.Parts[0])
	f.Add(strings.Join(parts(f, "kesrotate-bundle", bytes.Repeat([]byte{1, 2, 3}, 70), 50, 8), "\n"))
	f.Fuzz(func(t *testing.T, stream string) {
		d := Decoder{MaxSeqLen: 256, MaxMessageLen: 1 << 16}
		for _, p := range strings.Split(stream, "\n") {
			_ = d.Receive(p)
		}
		if !d.Complete() {
			if _, err := d.Result(); err == nil {
				t.Fatal("result from an incomplete decoder")
			}
			return
		}
		_, _ = d.Result()
	})
}

// FuzzBytewords checks that accepted minimal bytewords re-encode to the input.
func FuzzBytewords(f *testing.F) {
	addVectorSeeds(f, func(s string) { f.Add(s[strings.LastIndex(s, "/")+1:]) })
	f.Fuzz(func(t *testing.T, s string) {
		data, err := DecodeBytewords(Minimal, s)
		if err != nil {
			return
		}
		if got := EncodeBytewords(Minimal, data); got != strings.ToLower(s) {
			t.Fatalf("got %q, want %q", got, strings.ToLower(s))
		}
	})
}
