package transfer

import (
	"bytes"
	"fmt"
	"math"
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

// BenchmarkFrameLoss reports how the default frame set of each kind of
// bundle stands losses: the share of the sets with any k frames left out
// that still rebuild the bundle (k = 2 is FrameLoss: all of them), and
// the chance that a scan succeeds when each frame is lost independently
// with probability 10, 20 or 30 per cent (exact, over every subset).
func BenchmarkFrameLoss(b *testing.B) {
	f := newFixture(b)
	for _, tc := range []struct {
		name   string
		bundle *Bundle
	}{
		{"rotation", &Bundle{Magic: 1, PoolID: f.cold.Public().PoolID(), Cold: f.cold.Public(), Cert: f.cert, KES: f.kes, Checkpoint: testCheckpoint(b), Producer: "ABCD-EFGH-IJKL-MNOP", Created: t0}},
		{"first-install-with-vrf", &Bundle{Magic: 1, PoolID: f.cold.Public().PoolID(), Cold: f.cold.Public(), Cert: f.cert, KES: f.kes, VRF: f.vrf, Checkpoint: testCheckpoint(b), Producer: "ABCD-EFGH-IJKL-MNOP", Created: t0}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var buf bytes.Buffer
			if err := tc.bundle.Encrypt(&buf, f.identity.Recipient()); err != nil {
				b.Fatal(err)
			}
			frames, err := Frames(URBundle, buf.Bytes(), DefaultFragmentLen)
			if err != nil {
				b.Fatal(err)
			}
			m := len(frames)
			var ok []bool // by subset of frames kept (bit i: frame i)
			for b.Loop() {
				ok = make([]bool, 1<<m)
				for set := range ok {
					d := ur.NewDecoder()
					for i, fr := range frames {
						if set&(1<<i) != 0 {
							_ = d.Receive(fr)
						}
					}
					_, err := d.Result()
					ok[set] = err == nil
				}
			}
			for _, k := range []int{2, 3, 4} {
				good, all := 0, 0
				for set := range ok {
					if m-popcount(set) == k {
						all++
						if ok[set] {
							good++
						}
					}
				}
				b.ReportMetric(100*float64(good)/float64(all), fmt.Sprintf("any-%d-lost-%%", k))
			}
			for _, p := range []float64{0.1, 0.2, 0.3} {
				var prob float64
				for set := range ok {
					if ok[set] {
						kept := popcount(set)
						prob += math.Pow(1-p, float64(kept)) * math.Pow(p, float64(m-kept))
					}
				}
				b.ReportMetric(100*prob, fmt.Sprintf("read-at-%.0f%%-loss-%%", 100*p))
			}
			b.ReportMetric(float64(m), "frames")
		})
	}
}

func popcount(x int) int {
	n := 0
	for ; x != 0; x &= x - 1 {
		n++
	}
	return n
}
