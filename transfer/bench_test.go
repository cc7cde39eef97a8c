package transfer

import (
	"bytes"
	"testing"

	"github.com/kesrotate/kesrotate/transfer/qr"
	"github.com/kesrotate/kesrotate/transfer/ur"
)

// BenchmarkBundle reports, per kind of bundle, the encrypted file's size,
// its fragments and the QR frames of its default set at the default
// fragment length (fountain frames included, enough to lose any two), and
// the QR version of a frame, besides the time to seal it and cut it into
// frames. Goal: a rotation bundle of at most 400 bytes in at most 3
// fragments.
func BenchmarkBundle(b *testing.B) {
	f := newFixture(b)
	checkpoint := testCheckpoint(b) // a note as the ceremony log signs it
	cases := []struct {
		name   string
		bundle *Bundle
	}{
		{"rotation", &Bundle{Magic: 1, PoolID: f.cold.Public().PoolID(), Cold: f.cold.Public(), Cert: f.cert, KES: f.kes, Checkpoint: checkpoint, Producer: "ABCD-EFGH-IJKL-MNOP", Created: t0}},
		{"first-install-with-vrf", &Bundle{Magic: 1, PoolID: f.cold.Public().PoolID(), Cold: f.cold.Public(), Cert: f.cert, KES: f.kes, VRF: f.vrf, Checkpoint: checkpoint, Producer: "ABCD-EFGH-IJKL-MNOP", Created: t0}},
		{"kes-on-producer-cert-only", &Bundle{Magic: 1, PoolID: f.cold.Public().PoolID(), Cold: f.cold.Public(), Cert: f.cert, Checkpoint: checkpoint, Producer: "ABCD-EFGH-IJKL-MNOP", Created: t0}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			var size, frames, fragments, version int
			for i := 0; i < b.N; i++ {
				var buf bytes.Buffer
				if err := tc.bundle.Encrypt(&buf, f.identity.Recipient()); err != nil {
					b.Fatal(err)
				}
				fr, err := Frames(URBundle, buf.Bytes(), DefaultFragmentLen)
				if err != nil {
					b.Fatal(err)
				}
				v, err := qr.Version(fr[0], qr.LevelL)
				if err != nil {
					b.Fatal(err)
				}
				enc, err := ur.Encode(URBundle, buf.Bytes(), DefaultFragmentLen)
				if err != nil {
					b.Fatal(err)
				}
				size, frames, fragments, version = buf.Len(), len(fr), enc.SeqLen(), v
			}
			b.ReportMetric(float64(size), "bytes")
			b.ReportMetric(float64(fragments), "fragments")
			b.ReportMetric(float64(frames), "frames")
			b.ReportMetric(float64(version), "qr-version")
		})
	}
}
