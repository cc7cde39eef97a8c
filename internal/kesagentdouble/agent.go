package kesagentdouble

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/blinklabs-io/gouroboros/kes"
)

// KES parameters of the agent's key (Sum6KES, StandardCrypto).
const (
	kesDepth    = 6
	kesPeriods  = 1 << kesDepth // totalPeriodsKES: 64
	kesSeedSize = 32
)

// Version is what info reports as the agent's version (libraryVersion).
const Version = "1.1.0.0"

// RecvResult is kes-agent's RecvResult, in its enum order: install-key
// exits with a result's position.
type RecvResult int

// The results (RecvResult.hs).
const (
	RecvOK RecvResult = iota
	RecvErrorKeyOutdated
	RecvErrorInvalidOpCert
	RecvErrorNoKey
	RecvErrorUnsupportedOperation
	RecvErrorUnknown
)

// Reason is formatReason in ControlMain.hs.
func (r RecvResult) Reason() string {
	switch r {
	case RecvOK:
		return "no error"
	case RecvErrorInvalidOpCert:
		return "OpCert validation failed"
	case RecvErrorKeyOutdated:
		return "KES key outdated"
	case RecvErrorNoKey:
		return "No KES key found"
	case RecvErrorUnsupportedOperation:
		return "Operation not supported"
	}
	return "unknown error"
}

// String is the constructor's name, as `print` shows it (drop-key).
func (r RecvResult) String() string {
	return [...]string{"RecvOK", "RecvErrorKeyOutdated", "RecvErrorInvalidOpCert", "RecvErrorNoKey",
		"RecvErrorUnsupportedOperation", "RecvErrorUnknown"}[r]
}

// upstream is an error whose text is kes-agent's own, capitals and all.
type upstream string

func (e upstream) Error() string { return string(e) }

// Genesis is the agent's EvolutionConfig: the three genesis fields it reads.
type Genesis struct {
	SystemStart       time.Time
	SlotLength        int // whole seconds: the field is an Int
	SlotsPerKESPeriod int
}

// ParseGenesis reads a shelley genesis file as evolutionConfigFromGenesisFile
// does: only slotLength, slotsPerKESPeriod and systemStart, the first two
// as integers.
func ParseGenesis(data []byte) (Genesis, error) {
	var g struct {
		SlotLength        *int       `json:"slotLength"`
		SlotsPerKESPeriod *int       `json:"slotsPerKESPeriod"`
		SystemStart       *time.Time `json:"systemStart"`
	}
	if err := json.Unmarshal(data, &g); err != nil {
		return Genesis{}, upstream(fmt.Sprintf("Error in $: %v", err))
	}
	switch {
	case g.SlotLength == nil:
		return Genesis{}, upstream(`Error in $: parsing EvolutionConfig failed, key "slotLength" not found`)
	case g.SlotsPerKESPeriod == nil:
		return Genesis{}, upstream(`Error in $: parsing EvolutionConfig failed, key "slotsPerKESPeriod" not found`)
	case g.SystemStart == nil:
		return Genesis{}, upstream(`Error in $: parsing EvolutionConfig failed, key "systemStart" not found`)
	case *g.SlotLength <= 0 || *g.SlotsPerKESPeriod <= 0:
		return Genesis{}, upstream("Error in $: slotLength and slotsPerKESPeriod must be positive")
	}
	return Genesis{SystemStart: g.SystemStart.UTC(), SlotLength: *g.SlotLength, SlotsPerKESPeriod: *g.SlotsPerKESPeriod}, nil
}

func (g Genesis) periodLength() time.Duration {
	return time.Duration(g.SlotLength*g.SlotsPerKESPeriod) * time.Second
}

// PeriodAt is getCurrentKESPeriodAt: whole seconds since systemStart
// divided by the period's length in seconds. There is no Byron era in it.
func (g Genesis) PeriodAt(t time.Time) uint64 {
	d := t.Sub(g.SystemStart)
	secs := int64(d / time.Second) // floor, as Haskell's floor and div
	if d < 0 && d%time.Second != 0 {
		secs--
	}
	l := int64(g.SlotLength * g.SlotsPerKESPeriod)
	p := secs / l
	if secs < 0 && secs%l != 0 {
		p--
	}
	return uint64(p) // a Word: a time before genesis wraps, as fromInteger does
}

// PeriodTimes is getKESPeriodTimes.
func (g Genesis) PeriodTimes(p uint64) (start, end time.Time) {
	start = g.SystemStart.Add(time.Duration(p) * g.periodLength())
	return start, start.Add(g.periodLength())
}

// OCert is an operational certificate as the agent holds it.
type OCert struct {
	VKHot     [32]byte
	N         uint64
	KESPeriod uint64
	Sigma     [64]byte
}

// signable is OCertSignable's bytes: hot vk ‖ counter ‖ period, big-endian.
func (oc OCert) signable() []byte {
	b := append([]byte(nil), oc.VKHot[:]...)
	b = binary.BigEndian.AppendUint64(b, oc.N)
	return binary.BigEndian.AppendUint64(b, oc.KESPeriod)
}

// bundle is a TaggedBundle: a key with its cert, or (key nil) a deletion.
type bundle struct {
	at  time.Time
	key *kes.SecretKey
	oc  OCert
}

func (b *bundle) deletion() bool { return b.key == nil }

// Agent is a running kes-agent's state.
type Agent struct {
	cold    ed25519.PublicKey
	genesis Genesis
	clock   func() time.Time
	rand    io.Reader

	mu      sync.Mutex
	staged  *kes.SecretKey
	current *bundle // nil: no bundle at all
	subs    map[chan Push]struct{}
}

// NewAgent makes an agent that validates certs against the cold key, keeps
// time with clock (time.Now if nil) and draws key seeds from r
// (crypto/rand if nil).
func NewAgent(cold ed25519.PublicKey, g Genesis, clock func() time.Time, r io.Reader) *Agent {
	if clock == nil {
		clock = time.Now
	}
	if r == nil {
		r = rand.Reader
	}
	return &Agent{cold: bytes.Clone(cold), genesis: g, clock: clock, rand: r, subs: map[chan Push]struct{}{}}
}

// GenStagedKey is genKey: a fresh key replaces the staged one.
func (a *Agent) GenStagedKey() ([32]byte, error) {
	seed := make([]byte, kesSeedSize)
	if _, err := io.ReadFull(a.rand, seed); err != nil {
		return [32]byte{}, err
	}
	sk, vk, err := kes.KeyGen(kesDepth, seed)
	clear(seed)
	if err != nil {
		return [32]byte{}, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.staged.Zeroize()
	a.staged = sk
	var out [32]byte
	copy(out[:], vk)
	return out, nil
}

// StagedVKey is queryKey: the staged key's vkey, if there is one.
func (a *Agent) StagedVKey() ([32]byte, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.staged == nil {
		return [32]byte{}, false
	}
	var out [32]byte
	copy(out[:], kes.PublicKey(a.staged))
	return out, true
}

// DropStagedKey is dropStagedKey.
func (a *Agent) DropStagedKey() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.staged.Zeroize()
	a.staged = nil
}

// InstallKey is installKey: the staged key leaves the staging area
// whatever happens, then it is pushed with the cert.
func (a *Agent) InstallKey(oc OCert) RecvResult {
	a.mu.Lock()
	defer a.mu.Unlock()
	sk := a.staged
	a.staged = nil
	if sk == nil {
		return RecvErrorNoKey
	}
	return a.pushLocked(&bundle{at: a.clock(), key: sk, oc: oc})
}

// DropKey is dropKey: a deletion is pushed.
func (a *Agent) DropKey() RecvResult {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.pushLocked(&bundle{at: a.clock()})
}

// pushLocked is pushKey: validate, age check against the current bundle,
// install, broadcast, evolve.
func (a *Agent) pushLocked(nb *bundle) RecvResult {
	if !nb.deletion() {
		if err := a.validate(nb); err != nil {
			nb.key.Zeroize()
			return RecvErrorInvalidOpCert
		}
	}
	if cur := a.current; cur != nil && !ageValid(cur, nb) {
		nb.key.Zeroize()
		return RecvErrorKeyOutdated
	}
	if cur := a.current; cur != nil {
		cur.key.Zeroize()
	}
	a.current = nb
	a.broadcastLocked(nb)
	a.evolveLocked()
	return RecvOK
}

// validate is validateOCert against the staged key's vkey.
func (a *Agent) validate(b *bundle) error {
	if !bytes.Equal(kes.PublicKey(b.key), b.oc.VKHot[:]) {
		return upstream("Verification key does not match")
	}
	if !ed25519.Verify(a.cold, b.oc.signable(), b.oc.Sigma[:]) {
		return upstream("Verification failed")
	}
	return nil
}

// ageValid is isTaggedBundleAgeValid.
func ageValid(cur, nb *bundle) bool {
	var timeOK bool
	if nb.deletion() && !cur.deletion() {
		timeOK = !nb.at.Before(cur.at) // deletions trump creations
	} else {
		timeOK = cur.at.Before(nb.at)
	}
	countOK := cur.deletion() || nb.deletion() || cur.oc.N <= nb.oc.N
	return timeOK && countOK
}

// Evolve is checkEvolution, which the agent also runs on its own.
func (a *Agent) Evolve() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.evolveLocked()
}

func (a *Agent) evolveLocked() {
	cur := a.current
	if cur == nil || cur.deletion() {
		return
	}
	now := a.genesis.PeriodAt(a.clock())
	// updateKESTo: the target evolution is a Word difference; a cert that
	// starts after the agent's period wraps to a huge target.
	target := now - cur.oc.KESPeriod
	for cur.key.Period < target {
		next, err := kes.Update(cur.key)
		if err != nil {
			// No more evolutions: the key expired; the store is left
			// empty (not a deletion).
			cur.key.Zeroize()
			a.current = nil
			return
		}
		cur.key = next
	}
}

// Info is getInfo.
type Info struct {
	Now          time.Time
	Period       uint64
	PeriodStart  time.Time
	PeriodEnd    time.Time
	Bundle       *BundleInfo // nil: no bundle
	StagedVKey   *[32]byte
	BootstrapOff []string // configured bootstrap peers, all down
}

// BundleInfo is a TaggedBundleInfo: Deleted for a deletion.
type BundleInfo struct {
	Timestamp time.Time
	Deleted   bool
	VKey      [32]byte
	Start     uint64
	Evolution uint64
	N         uint64
	Sigma     [64]byte
}

// Info reports the agent's state; the installed key is evolved first, as
// the agent's evolution thread would have by then.
func (a *Agent) Info() Info {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.evolveLocked()
	now := a.clock()
	p := a.genesis.PeriodAt(now)
	start, end := a.genesis.PeriodTimes(p)
	in := Info{Now: now, Period: p, PeriodStart: start, PeriodEnd: end}
	if cur := a.current; cur != nil {
		bi := &BundleInfo{Timestamp: cur.at, Deleted: cur.deletion()}
		if !cur.deletion() {
			copy(bi.VKey[:], kes.PublicKey(cur.key))
			bi.Start, bi.Evolution, bi.N, bi.Sigma = cur.oc.KESPeriod, cur.key.Period, cur.oc.N, cur.oc.Sigma
		}
		in.Bundle = bi
	}
	if a.staged != nil {
		var vk [32]byte
		copy(vk[:], kes.PublicKey(a.staged))
		in.StagedVKey = &vk
	}
	return in
}

// Push is what the service socket sends a client: a key with its cert and
// evolution, or a deletion.
type Push struct {
	At        time.Time
	Deleted   bool
	Key       []byte // the raw 608-byte key at Evolution; a copy
	Evolution uint64
	OCert     OCert
}

func (b *bundle) push() Push {
	p := Push{At: b.at, Deleted: b.deletion(), OCert: b.oc}
	if !b.deletion() {
		p.Key, p.Evolution = bytes.Clone(b.key.Data), b.key.Period
	}
	return p
}

// Subscribe returns a channel that receives the current bundle (if any)
// and every one pushed after it, and a function that ends the
// subscription.
func (a *Agent) Subscribe() (<-chan Push, func()) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.evolveLocked()
	ch := make(chan Push, 8)
	if a.current != nil {
		ch <- a.current.push()
	}
	a.subs[ch] = struct{}{}
	return ch, func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		if _, ok := a.subs[ch]; ok {
			delete(a.subs, ch)
			close(ch)
		}
	}
}

func (a *Agent) broadcastLocked(b *bundle) {
	for ch := range a.subs {
		select {
		case ch <- b.push():
		default: // a client that does not read is dropped
			delete(a.subs, ch)
			close(ch)
		}
	}
}

// Close wipes the keys: a stopped agent keeps nothing.
func (a *Agent) Close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.staged.Zeroize()
	a.staged = nil
	if a.current != nil {
		a.current.key.Zeroize()
		a.current = nil
	}
	for ch := range a.subs {
		delete(a.subs, ch)
		close(ch)
	}
}
