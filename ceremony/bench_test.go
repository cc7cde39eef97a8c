package ceremony

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/kesrotate/kesrotate/auditlog"
	"github.com/kesrotate/kesrotate/opcert"
	"github.com/kesrotate/kesrotate/transfer"
)

// benchPool is a pool of a benchmark vault with its pinned producer and
// the producer's snapshot key, which signs the snapshots the ceremony reads.
type benchPool struct {
	name, producer string
	sign           ed25519.PrivateKey
	onChain        opcert.OnChain // what the chain shows after the last rotation
}

// benchVault makes a mainnet vault with n pools, each with one pinned
// producer, on a fixed clock and deterministic randomness. The producers'
// age identities are fresh (only the bundle sizes depend on them, not the
// timing).
func benchVault(b testing.TB, dir string, n int, now time.Time) (*Vault, []*benchPool) {
	return benchVaultWith(b, dir, n, now, nil)
}

// benchVaultWith is benchVault with the vault's keys encrypted by enc.
func benchVaultWith(b testing.TB, dir string, n int, now time.Time, enc *Encryption) (*Vault, []*benchPool) {
	b.Helper()
	v, err := Init(filepath.Join(dir, "vault"), InitOptions{Network: "mainnet", Now: now, Rand: &detRand{}, Encryption: enc})
	if err != nil {
		b.Fatal(err)
	}
	if enc != nil {
		pass := bytes.Clone(enc.Passphrase)
		v.Unlock(Access{Passphrase: func() ([]byte, error) { return bytes.Clone(pass), nil }})
	}
	v.Audit = Audit{Operator: "bench", Version: "bench", BinarySHA256: strings.Repeat("ab", 32)}
	pools := make([]*benchPool, n)
	for i := range pools {
		bp := &benchPool{name: fmt.Sprintf("pool%03d", i), producer: fmt.Sprintf("bp%03d", i)}
		p, err := v.NewPool(bp.name, now)
		if err != nil {
			b.Fatal(err)
		}
		id, err := p.PoolID()
		if err != nil {
			b.Fatal(err)
		}
		seed := sha256.Sum256([]byte(bp.producer))
		bp.sign = ed25519.NewKeyFromSeed(seed[:])
		ageID, err := age.GenerateX25519Identity()
		if err != nil {
			b.Fatal(err)
		}
		e := &transfer.Enrollment{Name: bp.producer, Magic: v.Network.Magic, PoolID: id, Recipient: ageID.Recipient().String(),
			SignKey: bp.sign.Public().(ed25519.PublicKey), Created: now}
		enr, err := e.Marshal(bp.sign)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := v.AddProducer(bp.producer, enr, AddProducerOptions{Now: now}); err != nil {
			b.Fatal(err)
		}
		pools[i] = bp
	}
	return v, pools
}

// snapshot is what bp's producer signs at now: its tip a minute old, and
// the counter the chain shows.
func (bp *benchPool) snapshot(b testing.TB, v *Vault, now time.Time) []byte {
	b.Helper()
	p, err := v.Pool(bp.name)
	if err != nil {
		b.Fatal(err)
	}
	id, err := p.PoolID()
	if err != nil {
		b.Fatal(err)
	}
	n := v.Network
	tip, err := n.SlotAt(now.Add(-time.Minute))
	if err != nil {
		b.Fatal(err)
	}
	s := &transfer.Snapshot{Magic: n.Magic, SlotsPerKESPeriod: n.SlotsPerKESPeriod, MaxKESEvolutions: n.MaxKESEvolutions,
		TipSlot: tip, TipTime: n.SlotTime(tip), PoolID: id, OnChain: bp.onChain, Created: now}
	return s.Marshal(bp.sign)
}

// processCPU is the CPU time (user and system, all threads) the process
// has used, from /proc/self/stat in clock ticks of 10 ms (Linux's
// USER_HZ); ok is false where that file does not exist. The benchmarks
// report it next to the wall time because the wall time of a rotation is
// mostly waiting for fsync, which depends on the disk and its load.
func processCPU() (d time.Duration, ok bool) {
	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, false
	}
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, true
}

// cpuMeter reports the CPU time per op used between its start and report.
type cpuMeter struct {
	start time.Duration
	ok    bool
}

func startCPU() cpuMeter {
	d, ok := processCPU()
	return cpuMeter{start: d, ok: ok}
}

func (m cpuMeter) report(b *testing.B, ops int) {
	end, ok := processCPU()
	if !m.ok || !ok || ops == 0 {
		return
	}
	b.ReportMetric(float64((end-m.start).Nanoseconds())/float64(ops), "cpu-ns/op")
}

// BenchmarkRotate is one ceremony that rotates every pool of a vault: for
// each pool the producer's signed snapshot is checked, the next cert is
// issued and journaled, the bundle is encrypted to the pinned producer and
// written, and the ceremony log records it all. Each iteration is the next
// KES period (the clock moves one period, the chain has seen the previous
// cert), so the vault grows as a real one does. ns/op is the whole
// ceremony; ns/pool divides it by the pools; cpu-ns/op is the CPU time
// of the ceremony (the rest is waiting, mostly for fsync).
func BenchmarkRotate(b *testing.B) {
	for _, n := range []int{1, 100} {
		b.Run(fmt.Sprintf("pools=%d", n), func(b *testing.B) {
			now := t0
			v, pools := benchVault(b, b.TempDir(), n, now)
			var size, certs, ops int
			cpu := startCPU()
			for b.Loop() {
				ops++
				now = now.Add(v.Network.PeriodLength())
				release, err := v.Acquire("bench ceremony") // one ceremony: one lock, one log open
				if err != nil {
					b.Fatal(err)
				}
				for _, bp := range pools {
					res, err := v.Rotate(RotateRequest{Pool: bp.name, Producer: bp.producer,
						Snapshot: bp.snapshot(b, v, now), Policy: transfer.SnapshotPolicy{}, Now: now})
					if err != nil {
						b.Fatalf("rotate %s: %v", bp.name, err)
					}
					bp.onChain = opcert.Recorded(res.Issue.Cert.Counter)
					size = len(res.Bundle)
					certs++
					res.Issue.KES.Wipe()
				}
				release()
			}
			cpu.report(b, ops)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(certs), "ns/pool")
			b.ReportMetric(float64(size), "bundle-bytes")
		})
	}
}

// BenchmarkVaultVerify10000 is 'kesrotate ceremony verify' on a vault
// whose log holds 10,000 entries, each with its checkpoint as the vault
// writes them: auditlog.Verify over the log folder on disk, then LogGaps
// of the entries it read, which compares the log with the pools'
// journals. The
// log starts with 10 pools rotated once and is filled up with backup-made
// entries. (auditlog's BenchmarkVerify10000 verifies a log of the same
// size held in memory, one pool with 4,999 certs and bundles, and reads no
// files and no journals.)
//
// The setup appends 10,000 entries through auditlog.Log.Append, several
// fsyncs each. Where the machine has a tmpfs at /dev/shm the vault is made
// there, only so that the setup takes seconds rather than minutes on a slow
// disk; the verify reads the same files either way, from memory (they were
// just written, so a disk-backed folder would serve them from the page
// cache too).
func BenchmarkVaultVerify10000(b *testing.B) {
	const size = 10000
	now := t0
	dir := b.TempDir()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "kesrotate-bench-"); err == nil {
			b.Cleanup(func() { _ = os.RemoveAll(d) })
			dir = d
		}
	}
	v, pools := benchVault(b, dir, 10, now)
	for _, bp := range pools {
		res, err := v.Rotate(RotateRequest{Pool: bp.name, Producer: bp.producer,
			Snapshot: bp.snapshot(b, v, now), Policy: transfer.SnapshotPolicy{}, Now: now})
		if err != nil {
			b.Fatalf("rotate %s: %v", bp.name, err)
		}
		res.Issue.KES.Wipe()
	}
	l, _, err := v.OpenLog(now)
	if err != nil {
		b.Fatal(err)
	}
	files := []auditlog.FileHash{HashFile("backup", "vault-backup.age", []byte("bench"))}
	for i := 0; l.Size() < size; i++ {
		e, err := v.Audit.entry(auditlog.KindBackupMade, now.Add(time.Duration(i)*time.Second))
		if err != nil {
			b.Fatal(err)
		}
		e.Files = files
		e.Detail = map[string]string{"target": fmt.Sprintf("/media/backup%d", i%3)}
		if _, _, err := l.Append(e); err != nil {
			b.Fatalf("append %d: %v", l.Size(), err)
		}
	}
	ops := 0
	cpu := startCPU()
	for b.Loop() {
		ops++
		r, err := auditlog.Verify(v.LogDir(), auditlog.VerifyOptions{VaultID: v.Meta.ID})
		if err != nil {
			b.Fatal(err)
		}
		if r.TreeSize != size || len(r.Pools) != len(pools) || len(r.Certs) != len(pools) {
			b.Fatalf("got %d entries, %d pools, %d certs, want %d, %d, %d", r.TreeSize, len(r.Pools), len(r.Certs), size, len(pools), len(pools))
		}
		gaps, err := v.LogGaps(r.Entries)
		if err != nil || len(gaps) != 0 {
			b.Fatalf("got gaps %v, %v, want none", gaps, err)
		}
	}
	cpu.report(b, ops)
}

// shmDir is a folder on /dev/shm when the machine has it (else the
// test's temp dir): the figures are CPU, not the disk's fsync latency.
func shmDir(b *testing.B) string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "kesrotate-bench-"); err == nil {
			b.Cleanup(func() { _ = os.RemoveAll(d) })
			return d
		}
	}
	return b.TempDir()
}

// fillLog appends backup-made entries until the vault's log holds size.
func fillLog(b *testing.B, v *Vault, size int64, now time.Time) {
	l, _, err := v.OpenLog(now)
	if err != nil {
		b.Fatal(err)
	}
	files := []auditlog.FileHash{HashFile("backup", "vault-backup.age", []byte("bench"))}
	for i := 0; l.Size() < size; i++ {
		e, err := v.Audit.entry(auditlog.KindBackupMade, now.Add(time.Duration(i)*time.Second))
		if err != nil {
			b.Fatal(err)
		}
		e.Files = files
		e.Detail = map[string]string{"target": fmt.Sprintf("/media/backup%d", i%3)}
		if _, _, err := l.Append(e); err != nil {
			b.Fatalf("append %d: %v", l.Size(), err)
		}
	}
}

// BenchmarkRotateLog is one rotation as one 'kesrotate rotate' process
// does it: open the vault (a new Vault, as a new process has), then
// rotate one pool, which opens the ceremony log. The vault has 10 pools
// (each rotated once); its log is fresh (the 10 rotations, 71 entries)
// or filled up to 10,000 entries. The goal is that the second costs at
// most 1.2 times the first: opening the log must not grow with it.
func BenchmarkRotateLog(b *testing.B) {
	for _, size := range []int64{0, 10000} {
		name := "entries=fresh"
		if size > 0 {
			name = fmt.Sprintf("entries=%d", size)
		}
		b.Run(name, func(b *testing.B) {
			now := t0
			v, pools := benchVault(b, shmDir(b), 10, now)
			for _, bp := range pools {
				res, err := v.Rotate(RotateRequest{Pool: bp.name, Producer: bp.producer,
					Snapshot: bp.snapshot(b, v, now), Policy: transfer.SnapshotPolicy{}, Now: now})
				if err != nil {
					b.Fatal(err)
				}
				bp.onChain = opcert.Recorded(res.Issue.Cert.Counter)
				res.Issue.KES.Wipe()
			}
			if size > 0 {
				fillLog(b, v, size, now)
				// A command that ran since saved the log's state, as every
				// command does; the first after a crash checks it in full.
				if _, err := v.RecordBackup(now, []auditlog.FileHash{HashFile("backup", "b.age", []byte("b"))}, nil); err != nil {
					b.Fatal(err)
				}
			}
			bp := pools[0]
			cpu := startCPU()
			ops := 0
			for b.Loop() {
				ops++
				now = now.Add(v.Network.PeriodLength())
				w, err := Open(v.Dir)
				if err != nil {
					b.Fatal(err)
				}
				w.Audit = v.Audit
				res, err := w.Rotate(RotateRequest{Pool: bp.name, Producer: bp.producer,
					Snapshot: bp.snapshot(b, w, now), Policy: transfer.SnapshotPolicy{}, Now: now})
				if err != nil {
					b.Fatalf("rotate: %v", err)
				}
				bp.onChain = opcert.Recorded(res.Issue.Cert.Counter)
				res.Issue.KES.Wipe()
			}
			cpu.report(b, ops)
		})
	}
}

// BenchmarkFleet is 'kesrotate fleet rotate --all' as one process does
// it: open the vault (a new Vault), then RotateFleet over every pool, each
// from its producer's snapshot of the next KES period. The vault is on
// /dev/shm where the machine has it, so that the figure is the
// ceremony's work, not the disk's fsync latency. Goal: 100 pools in at
// most 3 s, at most 12 times 10 pools (linear).
func BenchmarkFleet(b *testing.B) {
	for _, n := range []int{10, 100} {
		b.Run(fmt.Sprintf("pools=%d", n), func(b *testing.B) {
			now := t0
			v, pools := benchVault(b, shmDir(b), n, now)
			cpu := startCPU()
			ops := 0
			for b.Loop() {
				ops++
				now = now.Add(v.Network.PeriodLength())
				w, err := Open(v.Dir)
				if err != nil {
					b.Fatal(err)
				}
				w.Audit = v.Audit
				var snaps []FleetSnapshot
				for _, bp := range pools {
					snaps = append(snaps, FleetSnapshot{Name: bp.name, Data: bp.snapshot(b, w, now)})
				}
				res, err := w.RotateFleet(FleetRequest{Snapshots: snaps, Policy: transfer.SnapshotPolicy{}, Now: now})
				if err != nil {
					b.Fatal(err)
				}
				for i, o := range res.Outcomes {
					if o.Err != nil {
						b.Fatalf("%s: %v", o.Pool, o.Err)
					}
					pools[i].onChain = opcert.Recorded(o.Result.Issue.Cert.Counter)
					o.Result.Issue.KES.Wipe()
				}
			}
			cpu.report(b, ops)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(ops*n), "ns/pool")
		})
	}
}

// BenchmarkRotateEncrypted is one rotation in a vault whose keys are
// encrypted with a passphrase (scrypt work factor 18, the default), after
// the vault was unlocked, against the same in a plaintext vault. Goal:
// at most 2 times the plaintext one. The unlock itself (one scrypt) is
// BenchmarkUnlock.
func BenchmarkRotateEncrypted(b *testing.B) {
	for _, mode := range []string{"plaintext", "passphrase"} {
		b.Run("vault="+mode, func(b *testing.B) {
			now := t0
			var enc *Encryption
			if mode == "passphrase" {
				enc = &Encryption{Passphrase: []byte("correct horse battery staple")}
			}
			v, pools := benchVaultWith(b, shmDir(b), 1, now, enc)
			if enc != nil {
				v.Unlock(Access{Passphrase: func() ([]byte, error) { return []byte("correct horse battery staple"), nil }})
				if err := v.CheckUnlock(); err != nil {
					b.Fatal(err)
				}
			}
			bp := pools[0]
			cpu := startCPU()
			ops := 0
			for b.Loop() {
				ops++
				now = now.Add(v.Network.PeriodLength())
				res, err := v.Rotate(RotateRequest{Pool: bp.name, Producer: bp.producer,
					Snapshot: bp.snapshot(b, v, now), Policy: transfer.SnapshotPolicy{}, Now: now})
				if err != nil {
					b.Fatal(err)
				}
				bp.onChain = opcert.Recorded(res.Issue.Cert.Counter)
				res.Issue.KES.Wipe()
			}
			cpu.report(b, ops)
		})
	}
}

// BenchmarkUnlock is what a passphrase vault costs once per process: the
// one scrypt (work factor 18) that opens its identity.
func BenchmarkUnlock(b *testing.B) {
	pass := []byte("correct horse battery staple")
	v, _ := benchVaultWith(b, shmDir(b), 1, t0, &Encryption{Passphrase: pass})
	for b.Loop() {
		w, err := Open(v.Dir)
		if err != nil {
			b.Fatal(err)
		}
		w.Unlock(Access{Passphrase: func() ([]byte, error) { return bytes.Clone(pass), nil }})
		if err := w.CheckUnlock(); err != nil {
			b.Fatal(err)
		}
	}
}
