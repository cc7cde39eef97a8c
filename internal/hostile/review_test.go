package hostile

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/blinklabs-io/gouroboros/cbor"

	"github.com/kesrotate/kesrotate/internal/pngtest"
	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/opcert"
	"github.com/kesrotate/kesrotate/transfer"
)

// reviewCases are the cases of the outside review of issue 13: what
// someone holding the vault stick, a producer, or the log could try, and
// the accidents the same checks catch. Each is refused with one error line
// and a hint, and changes nothing.
func reviewCases(t *testing.T) []hcase {
	const top = "18446744073709551615"
	in := func(f *fixture, name string) string { return filepath.Join(f.in, name) }
	return []hcase{
		// 1. Pins: a swapped enrollment on the stick.
		{name: "review/pin-swapped-enrollment", prog: K, want: `bp1\.kre holds fingerprint .*the file was replaced`, hint: `do not rotate to it`,
			args: func(f *fixture) []string {
				v := f.swappedVault(t)
				return []string{"--vault", v, "--now", now, "rotate", "gd", "--producer", "bp1", "--snapshot", f.snap4, "--out", in(f, "swap-out")}
			}},
		{name: "review/pin-swapped-enrollment-verify", prog: K, report: true, want: `not the enrollment pinned at log entry \d+`, hint: `do not rotate to that producer`,
			args: func(f *fixture) []string {
				return []string{"--vault", f.swappedVault(t), "ceremony", "verify"}
			}},
		{name: "review/pin-file-not-in-log", prog: K, want: `the ceremony log pins no producer bp9`, hint: `do not rotate to it`,
			args: func(f *fixture) []string {
				v := f.vaultCopy(t, f.vault, "v-planted")
				copyFile(t, f.enroll4, filepath.Join(v, "producers", "bp9.kre"))
				return []string{"--vault", v, "--now", now, "rotate", "gd", "--producer", "bp9", "--snapshot", f.snap4, "--out", in(f, "plant-out")}
			}},

		// 2. One writer at a time.
		{name: "review/vault-lock-held", prog: K, want: `the vault is in use by another kesrotate \(pid \d+, rotate since `, hint: `let the other kesrotate finish`,
			args: func(f *fixture) []string {
				f.holdLock(t, f.vault, "rotate")
				return f.plain("1571", "0", "--ignore-clock")
			},
			after: func(f *fixture) { f.releaseLock(t) }},
		{name: "review/vault-lock-held-producer-add", prog: K, want: `in use by another kesrotate \(pid \d+, backup vault since `, hint: `nothing was changed`,
			args: func(f *fixture) []string {
				f.holdLock(t, f.vault, "backup vault")
				return f.cold("producer", "add", "bp4", "--yes", "--enrollment", f.enroll4)
			},
			after: func(f *fixture) { f.releaseLock(t) }},

		// 3. scrypt parameters from vault.json.
		{name: "review/scrypt-work-factor-1", prog: K, want: `scrypt work factor 1, outside 10\.\.22`, hint: `vault\.json is not signed`,
			args: func(f *fixture) []string {
				return []string{"--vault", f.editedVault(t, "ev-wf1", 1), "--passphrase-file", f.pass, "--now", now, "pool", "new", "x"}
			}},
		{name: "review/scrypt-work-factor-31", prog: K, want: `scrypt work factor 31, outside 10\.\.22`, hint: `vault\.json is not signed`,
			args: func(f *fixture) []string {
				return []string{"--vault", f.editedVault(t, "ev-wf31", 31), "--passphrase-file", f.pass, "--now", now, "pool", "new", "x"}
			}},
		{name: "review/scrypt-work-factor-other-valid", prog: K, want: `vault\.json gives scrypt work factor 12, .* was made with 10`, hint: `vault\.json or the secret files were changed`,
			args: func(f *fixture) []string {
				return []string{"--vault", f.editedVault(t, "ev-wf12", 12), "--passphrase-file", f.pass, "--now", now, "pool", "new", "x"}
			}},

		// 5. Replays and the future.
		{name: "review/snapshot-used-twice", prog: K, want: `this snapshot already produced a cert: cert #0 \(KES period 1571`, hint: `good for one cert`,
			args: func(f *fixture) []string { return f.rotate("--snapshot", f.snap, "--out", in(f, "replay-out")) }},
		{name: "review/ignore-clock-far-future", prog: K, want: `10 periods ahead of this machine's clock .*at most 4`, hint: `--now`,
			args: func(f *fixture) []string {
				return f.rotate("--snapshot", f.futureSnapshot(t, 10), "--ignore-clock", "--out", in(f, "future-out"))
			}},

		// 6. Arithmetic at the edges.
		{name: "review/force-counter-top", prog: K, want: `op cert counter is exhausted`,
			args: func(f *fixture) []string { return f.plain("1571", "none", "--force-counter", top) }},

		// 7. Smaller ones.
		{name: "review/enrollment-small-order-key", prog: K, want: `not a usable Ed25519 public key: a small-order point`,
			args: func(f *fixture) []string {
				return f.cold("producer", "add", "bpx", "--yes", "--enrollment", f.file(t, "enroll-small-order", smallOrderEnrollment(t, f)))
			}},
		{name: "review/enrollment-bidi-name", prog: K, want: `enrollment name "bp\\u202e1pb" holds control or formatting characters`,
			args: func(f *fixture) []string {
				return f.cold("producer", "add", "bpx", "--yes", "--enrollment", f.file(t, "enroll-bidi", f.signedEnrollment(t, "bp\u202e1pb")))
			}},
		{name: "review/snapshot-bidi-cert-hash", prog: K, want: `installed cert hash "ab\\u202eabab.*" is not 64 lower-case hex`,
			args: func(f *fixture) []string {
				return f.rotate("--snapshot", f.file(t, "snap-bidi", f.signedSnapshot(t, "ab\u202e"+strings.Repeat("ab", 31))), "--out", in(f, "bidi-out"))
			}},
		{name: "review/envelope-duplicate-type", prog: K, want: `key "type" given twice`,
			args: func(f *fixture) []string {
				return f.imp("x", f.variant(t, f.coldSkey(), "cold-dup", func(b []byte) []byte {
					return bytes.Replace(b, []byte(`"type": `), []byte(`"type": "VrfSigningKey_PraosVRF", "type": `), 1)
				}), f.counter(), "")
			}},
		{name: "review/envelope-case-folded-key", prog: K, want: `key "Type" written in another case`,
			args: func(f *fixture) []string {
				return f.imp("x", f.variant(t, f.coldSkey(), "cold-case", func(b []byte) []byte {
					return bytes.Replace(b, []byte(`"type"`), []byte(`"Type"`), 1)
				}), f.counter(), "")
			}},
		{name: "review/envelope-trailing-garbage", prog: K, want: `more after the JSON object`,
			args: func(f *fixture) []string {
				return f.imp("x", f.variant(t, f.coldSkey(), "cold-trailing", func(b []byte) []byte { return append(b, "]}"...) }), f.counter(), "")
			}},
		{name: "review/seed-file-as-cold-skey", prog: K, args: func(f *fixture) []string {
			return f.imp("x", filepath.Join(f.agent, "snapshot.key"), f.counter(), "")
		}},
		{name: "review/seed-file-as-counter", prog: K, args: func(f *fixture) []string {
			return f.imp("x", f.coldSkey(), filepath.Join(f.agent, "snapshot.key"), "")
		}},
		{name: "review/seed-file-as-snapshot", prog: K, args: func(f *fixture) []string {
			return f.rotate("--snapshot", filepath.Join(f.agent, "snapshot.key"))
		}},
		{name: "review/seed-file-as-enrollment", prog: K, args: func(f *fixture) []string {
			return f.cold("producer", "add", "bpx", "--yes", "--enrollment", filepath.Join(f.agent, "snapshot.key"))
		}},
		{name: "review/seed-file-as-cert", prog: K, args: func(f *fixture) []string {
			return f.cold("verify", "--cert", filepath.Join(f.agent, "snapshot.key"))
		}},
		{name: "review/identity-file-as-cold-skey", prog: K, args: func(f *fixture) []string {
			return f.imp("x", filepath.Join(f.agent, "identity.txt"), f.counter(), "")
		}},
		{name: "review/seed-file-as-bundle", prog: A, args: func(f *fixture) []string {
			return f.install(filepath.Join(f.agent, "snapshot.key"))
		}},
		{name: "review/scan-dev-zero", prog: K, want: `/dev/zero: not a regular file`, args: func(f *fixture) []string {
			return f.cold("producer", "add", "bpx", "--yes", "--scan", "/dev/zero")
		}},
		{name: "review/scan-fifo", prog: K, want: `not a regular file`, args: func(f *fixture) []string {
			return f.rotate("--scan", f.fifo(t, "scan-fifo.png"))
		}},
		{name: "review/scan-png-16-bit-at-old-limit", prog: K, want: `bytes decoded; save it as 8-bit`, args: func(f *fixture) []string {
			return f.cold("producer", "add", "bpx", "--yes", "--scan", f.file(t, "rgba64.png", pngtest.Header(4096, 4096, 16, 6)))
		}},
		{name: "review/scan-png-one-pixel-over", prog: K, want: `4096x4097 pixels is larger than`, args: func(f *fixture) []string {
			return f.cold("producer", "add", "bpx", "--yes", "--scan", f.file(t, "grey-over.png", pngtest.Header(4096, 4097, 8, 0)))
		}},
		{name: "review/crash-leftover-is-unsealed", prog: K, report: true, want: `entries after the latest checkpoint: an interrupted write`, hint: `ceremony seal`,
			args: func(f *fixture) []string {
				v := f.vaultCopy(t, f.vault, "v-crashed")
				if err := os.WriteFile(filepath.Join(v, "log", "checkpoints", ".12.note.tmp-4471"), []byte("kesrotate.vault/"), 0o644); err != nil {
					t.Fatal(err)
				}
				return []string{"--vault", v, "ceremony", "verify"}
			}},
		{name: "review/vault-folder-world-writable", prog: K, want: `folder pools has mode 0777, others may change what is in it`, hint: `find out who changed the modes`,
			args: func(f *fixture) []string {
				v := f.vaultCopy(t, f.vault, "v-0777")
				chmod(t, filepath.Join(v, "pools"), 0o777)
				return []string{"--vault", v, "pool", "list"}
			}},
		{name: "review/cold-key-0666", prog: K, want: `key file pools/gd/cold.skey has mode 0666, others may read it`, hint: `find out who changed the modes`,
			args: func(f *fixture) []string {
				v := f.vaultCopy(t, f.vault, "v-0666")
				chmod(t, filepath.Join(v, "pools", "gd", "cold.skey"), 0o666)
				return []string{"--vault", v, "--now", now, "pool", "new", "x"}
			}},
		{name: "review/cold-key-symlinked", prog: K, want: `pools/gd/cold.skey is a link`, hint: `find out who`,
			args: func(f *fixture) []string {
				v := f.vaultCopy(t, f.vault, "v-link")
				key := filepath.Join(v, "pools", "gd", "cold.skey")
				elsewhere := in(f, "cold-elsewhere.skey")
				if err := os.Rename(key, elsewhere); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(elsewhere, key); err != nil {
					t.Fatal(err)
				}
				return []string{"--vault", v, "--now", now, "pool", "list"}
			}},
		{name: "review/checkpoints-empty-folder", prog: K, report: true, want: `no checkpoint in it`, args: func(f *fixture) []string {
			return f.cold("ceremony", "verify", "--checkpoints", f.dir(t, "no-checkpoints"))
		}},
		{name: "review/checkpoints-file-not-a-note", prog: K, report: true, want: `not a \*\.note file or a checkpoint QR image`, args: func(f *fixture) []string {
			return f.cold("ceremony", "verify", "--checkpoints", f.file(t, "ckpt.txt", []byte("kesrotate.vault/\n")))
		}},
	}
}

// swappedVault is a copy of the vault whose producers/bp1.kre is bp4's
// enrollment: what someone with the stick and no passphrase can do.
func (f *fixture) swappedVault(t *testing.T) string {
	t.Helper()
	v := filepath.Join(f.in, "v-swapped")
	if _, err := os.Lstat(v); err == nil {
		return v
	}
	v = f.vaultCopy(t, f.vault, "v-swapped")
	if err := os.WriteFile(filepath.Join(v, "producers", "bp1.kre"), mustRead(t, f.enroll4), 0o644); err != nil {
		t.Fatal(err)
	}
	return v
}

// editedVault is a copy of the encrypted vault whose vault.json says
// scrypt work factor wf.
func (f *fixture) editedVault(t *testing.T, name string, wf int) string {
	t.Helper()
	v := f.vaultCopy(t, f.evault, name)
	p := filepath.Join(v, "vault.json")
	b := mustRead(t, p)
	b = bytes.Replace(b, []byte(`"scrypt_work_factor": 10`), []byte(`"scrypt_work_factor": `+strconv.Itoa(wf)), 1)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return v
}

var heldLock *os.File

// holdLock takes the vault's lock as another kesrotate would and writes
// what it does into the lock file.
func (f *fixture) holdLock(t *testing.T, vault, op string) {
	t.Helper()
	l, err := os.OpenFile(filepath.Join(vault, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(l.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(l, "pid %d, %s since %s\n", os.Getpid(), op, time.Now().UTC().Format(time.RFC3339))
	heldLock = l
}

func (f *fixture) releaseLock(t *testing.T) {
	if heldLock == nil {
		return
	}
	_ = heldLock.Truncate(0)
	_ = heldLock.Close()
	heldLock = nil
}

// agentKey is the agent's snapshot key: the producer signs with it.
func agentKey(t *testing.T, dir string) ed25519.PrivateKey {
	t.Helper()
	seed, err := hex.DecodeString(strings.TrimSpace(string(mustRead(t, filepath.Join(dir, "snapshot.key")))))
	if err != nil {
		t.Fatal(err)
	}
	return ed25519.NewKeyFromSeed(seed)
}

// signedEnrollment is bp1's enrollment under another name, signed by bp1's
// key: what a producer can send.
func (f *fixture) signedEnrollment(t *testing.T, name string) []byte {
	t.Helper()
	e, err := transfer.ParseEnrollment(mustRead(t, f.enroll))
	if err != nil {
		t.Fatal(err)
	}
	e.Name = name
	b, err := e.Marshal(agentKey(t, f.agent))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// signedSnapshot is bp1's snapshot reporting an installed cert hash that is
// not one, signed by bp1's key.
func (f *fixture) signedSnapshot(t *testing.T, installedHash string) []byte {
	t.Helper()
	s := f.snapshotAt(t, 0)
	s.Installed = &transfer.Installed{Counter: 0, KESPeriod: 1571, CertHash: installedHash}
	return s.Marshal(agentKey(t, f.agent))
}

// futureSnapshot is bp1's snapshot with its tip periods KES periods ahead
// of the fixture's clock.
func (f *fixture) futureSnapshot(t *testing.T, periods uint64) string {
	t.Helper()
	return f.file(t, fmt.Sprintf("snap-future-%d", periods), f.snapshotAt(t, periods).Marshal(agentKey(t, f.agent)))
}

func (f *fixture) snapshotAt(t *testing.T, periodsAhead uint64) *transfer.Snapshot {
	t.Helper()
	n := opcert.Mainnet
	slot, err := strconv.ParseUint(tip, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	slot += periodsAhead * n.SlotsPerKESPeriod
	vk, err := keys.ParseColdVKey(mustRead(t, filepath.Join(f.pub, "cold.vkey")))
	if err != nil {
		t.Fatal(err)
	}
	clock, _ := time.Parse(time.RFC3339, now)
	return &transfer.Snapshot{Magic: n.Magic, SlotsPerKESPeriod: n.SlotsPerKESPeriod, MaxKESEvolutions: n.MaxKESEvolutions,
		TipSlot: slot, TipTime: n.SlotTime(slot), PoolID: vk.PoolID(), OnChain: opcert.None(), Created: clock}
}

// smallOrderEnrollment is an enrollment whose signing key is the identity
// point: its "signature" identity‖0 verifies on every message, so anyone
// could sign snapshots as this producer.
func smallOrderEnrollment(t *testing.T, f *fixture) []byte {
	t.Helper()
	e, err := transfer.ParseEnrollment(mustRead(t, f.enroll))
	if err != nil {
		t.Fatal(err)
	}
	identity := append([]byte{1}, make([]byte, 31)...)
	type body struct {
		_         struct{} `cbor:",toarray"`
		Magic     string
		Version   uint64
		Name      string
		Network   uint32
		PoolID    []byte
		Recipient string
		SignKey   []byte
		Created   int64
	}
	type signed struct {
		_    struct{} `cbor:",toarray"`
		Body []byte
		Sig  []byte
	}
	b, err := cbor.Encode(body{Magic: transfer.MagicEnrollment, Version: transfer.Version, Name: "bpx", Network: e.Magic,
		PoolID: e.PoolID[:], Recipient: e.Recipient, SignKey: identity, Created: e.Created.Unix()})
	if err != nil {
		t.Fatal(err)
	}
	out, err := cbor.Encode(signed{Body: b, Sig: append(bytes.Clone(identity), make([]byte, 32)...)})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.WriteFile(dst, mustRead(t, src), 0o644); err != nil {
		t.Fatal(err)
	}
}

func chmod(t *testing.T, p string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}
