package transfer

import (
	"bytes"
	"testing"

	"github.com/kesrotate/kesrotate/transfer/qr"
)

// BenchmarkBundle reports, per kind of bundle, the encrypted file's size,
// the QR frames it takes at the default fragment length (including the
// fountain extras) and the QR version of a frame, besides the time to seal
// it and write its frames.
func BenchmarkBundle(b *testing.B) {
	f := newFixture(b)
	checkpoint := bytes.Repeat([]byte("c"), 300) // a signed note is about this size
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
			var size, frames, version int
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
				size, frames, version = buf.Len(), len(fr), v
			}
			b.ReportMetric(float64(size), "bytes")
			b.ReportMetric(float64(frames), "frames")
			b.ReportMetric(float64(version), "qr-version")
		})
	}
}
