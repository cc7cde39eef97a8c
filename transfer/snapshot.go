package transfer

import (
	"crypto/ed25519"
	"fmt"
	"time"

	"github.com/kesrotate/kesrotate/internal/durfmt"
	"github.com/kesrotate/kesrotate/internal/textsafe"
	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/opcert"
)

// Installed summarises the cert a producer has installed.
type Installed struct {
	Counter   uint64
	KESPeriod uint64
	CertHash  string // hex SHA-256 of the cert's CBOR
}

// Snapshot is the chain as the producer sees it, signed by the producer:
// everything the cold side needs to choose a counter and a KES period
// without trusting its own clock or a hand-typed number.
type Snapshot struct {
	Magic             uint32
	SlotsPerKESPeriod uint64
	MaxKESEvolutions  uint64
	TipSlot           uint64
	TipTime           time.Time
	PoolID            keys.PoolID
	OnChain           opcert.OnChain
	Installed         *Installed    // nil if no cert is installed
	KESVKey           *keys.KESVKey // KES-on-producer mode: the key to certify
	Created           time.Time     // the producer's clock when it signed
}

type wireSnapshotBody struct {
	_                 struct{} `cbor:",toarray"`
	Magic             string
	Version           uint64
	Network           uint32
	SlotsPerKESPeriod uint64
	MaxKESEvolutions  uint64
	TipSlot           uint64
	TipTime           int64
	PoolID            []byte
	OnChainKnown      bool
	OnChain           uint64
	HasInstalled      bool
	InstalledCounter  uint64
	InstalledPeriod   uint64
	InstalledCertHash string
	KESVKey           []byte // empty unless KES-on-producer mode
	Created           int64
}

const snapshotDomain = "kesrotate snapshot v1"

// Marshal signs the snapshot with the producer's snapshot key.
func (s *Snapshot) Marshal(signer ed25519.PrivateKey) []byte {
	w := wireSnapshotBody{
		Magic: MagicSnapshot, Version: Version, Network: s.Magic, SlotsPerKESPeriod: s.SlotsPerKESPeriod,
		MaxKESEvolutions: s.MaxKESEvolutions, TipSlot: s.TipSlot, TipTime: s.TipTime.Unix(), PoolID: s.PoolID[:],
		OnChainKnown: s.OnChain.Known, OnChain: s.OnChain.N, Created: s.Created.Unix(), KESVKey: []byte{},
	}
	if s.Installed != nil {
		w.HasInstalled, w.InstalledCounter, w.InstalledPeriod, w.InstalledCertHash = true, s.Installed.Counter, s.Installed.KESPeriod, s.Installed.CertHash
	}
	if s.KESVKey != nil {
		w.KESVKey = s.KESVKey[:]
	}
	body := encode(w)
	return encode(wireSigned{Body: body, Sig: ed25519.Sign(signer, signedMessage(snapshotDomain, body))})
}

// ParseSnapshot reads a snapshot and checks its signature against the
// pinned producer key. Nothing in it is trusted before that.
func ParseSnapshot(data []byte, producer ed25519.PublicKey) (*Snapshot, error) {
	if err := keys.CheckEd25519PublicKey(producer); err != nil {
		return nil, fmt.Errorf("the producer's snapshot key: %w", err)
	}
	sw, err := decodeSigned("snapshot", MagicSnapshot, data)
	if err != nil {
		return nil, err
	}
	if !ed25519.Verify(producer, signedMessage(snapshotDomain, sw.Body), sw.Sig) {
		return nil, fmt.Errorf("%w: the snapshot was not signed by this producer, or was changed after signing", ErrSignature)
	}
	var w wireSnapshotBody
	if err := decode("snapshot body", sw.Body, &w); err != nil {
		return nil, err
	}
	if err := checkHead("snapshot", w.Magic, w.Version, MagicSnapshot); err != nil {
		return nil, err
	}
	if err := fixed("snapshot pool id", w.PoolID, keys.PoolIDSize); err != nil {
		return nil, err
	}
	s := &Snapshot{
		Magic: w.Network, SlotsPerKESPeriod: w.SlotsPerKESPeriod, MaxKESEvolutions: w.MaxKESEvolutions,
		TipSlot: w.TipSlot, TipTime: time.Unix(w.TipTime, 0).UTC(), Created: time.Unix(w.Created, 0).UTC(),
	}
	copy(s.PoolID[:], w.PoolID)
	if w.OnChainKnown {
		s.OnChain = opcert.Recorded(w.OnChain)
	} else if w.OnChain != 0 {
		return nil, fmt.Errorf("%w: snapshot has a counter value without a counter", ErrFormat)
	}
	if w.HasInstalled && !isHash(w.InstalledCertHash) {
		return nil, fmt.Errorf("%w: snapshot's installed cert hash %+q is not 64 lower-case hex digits", ErrFormat, textsafe.Cut(w.InstalledCertHash, 80))
	}
	if !w.HasInstalled && (w.InstalledCertHash != "" || w.InstalledCounter != 0 || w.InstalledPeriod != 0) {
		return nil, fmt.Errorf("%w: snapshot describes an installed cert without one", ErrFormat)
	}
	if w.HasInstalled {
		s.Installed = &Installed{Counter: w.InstalledCounter, KESPeriod: w.InstalledPeriod, CertHash: w.InstalledCertHash}
	}
	if len(w.KESVKey) > 0 {
		if err := fixed("snapshot KES vkey", w.KESVKey, keys.KESVKeySize); err != nil {
			return nil, err
		}
		var vk keys.KESVKey
		copy(vk[:], w.KESVKey)
		s.KESVKey = &vk
	}
	return s, nil
}

// SnapshotPoolID returns the pool id a snapshot names, without checking
// its signature: only to choose whose key to check it with (ParseSnapshot
// trusts nothing before that check).
func SnapshotPoolID(data []byte) (keys.PoolID, error) {
	var id keys.PoolID
	var sw wireSigned
	if err := decode("snapshot", data, &sw); err != nil {
		return id, err
	}
	var w wireSnapshotBody
	if err := decode("snapshot body", sw.Body, &w); err != nil {
		return id, err
	}
	if err := checkHead("snapshot", w.Magic, w.Version, MagicSnapshot); err != nil {
		return id, err
	}
	if err := fixed("snapshot pool id", w.PoolID, keys.PoolIDSize); err != nil {
		return id, err
	}
	copy(id[:], w.PoolID)
	return id, nil
}

// isHash reports whether s is a SHA-256 in lower-case hex, as the cert
// hashes the agent reports are.
func isHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// DefaultMaxAge is how old a snapshot's tip may be, unless the operator
// says otherwise.
const DefaultMaxAge = 24 * time.Hour

// ClockTolerance is how many KES periods a cert's period may be from the
// one the cold machine's clock is in, and MaxClockOverride how many an
// override of that check (IgnoreClock) still accepts: a clock wrong by
// more, or a period typed or reported that far off, is refused even then
// (give the right time instead; it is logged). This bounds what one
// override can do: a cert far in the future would otherwise make every
// normal rotation look like it went back in time.
const (
	ClockTolerance   = 1
	MaxClockOverride = 4
)

// CheckClock applies the clock rule to a cert's KES period: within
// ClockTolerance periods of the clock's, or, with ignore, within
// MaxClockOverride. The error wraps ErrClockSkew.
func CheckClock(n opcert.Network, period uint64, now time.Time, ignore bool) error {
	clock, err := n.KESPeriodAt(now)
	if err != nil {
		return err
	}
	var d uint64 // |period - clock|
	ahead := period > clock
	if ahead {
		d = period - clock
	} else {
		d = clock - period
	}
	if d <= ClockTolerance || (ignore && d <= MaxClockOverride) {
		return nil
	}
	where := "behind"
	if ahead {
		where = "ahead of"
	}
	if ignore {
		return fmt.Errorf("%w: KES period %d is %d periods %s this machine's clock (%s, period %d); an override accepts at most %d",
			ErrClockSkew, period, d, where, now.Format(time.RFC3339), clock, MaxClockOverride)
	}
	return fmt.Errorf("%w: KES period %d is %d periods %s this machine's clock (%s, period %d)",
		ErrClockSkew, period, d, where, now.Format(time.RFC3339), clock)
}

// SnapshotPolicy is what the cold side accepts.
type SnapshotPolicy struct {
	Network     opcert.Network
	PoolID      keys.PoolID
	Now         time.Time     // the cold machine's clock
	MaxAge      time.Duration // by the snapshot's tip time; 0 means DefaultMaxAge
	IgnoreClock bool          // accept a clock up to MaxClockOverride KES periods off
	AllowStale  bool          // accept an old snapshot
}

// Check applies the policy and returns the KES period to issue for. The
// error names what disagrees.
func (s *Snapshot) Check(p SnapshotPolicy) (uint64, error) {
	n := p.Network
	if s.Magic != n.Magic {
		return 0, fmt.Errorf("%w: snapshot is for network magic %d, the vault is %s (magic %d)", ErrWrongNetwork, s.Magic, n.Name, n.Magic)
	}
	if s.SlotsPerKESPeriod != n.SlotsPerKESPeriod || s.MaxKESEvolutions != n.MaxKESEvolutions {
		return 0, fmt.Errorf("%w: snapshot KES parameters %d/%d differ from the vault's %d/%d", ErrWrongNetwork,
			s.SlotsPerKESPeriod, s.MaxKESEvolutions, n.SlotsPerKESPeriod, n.MaxKESEvolutions)
	}
	if s.PoolID != p.PoolID {
		return 0, fmt.Errorf("%w: snapshot is for pool %s, not %s", ErrWrongPool, s.PoolID, p.PoolID)
	}
	if want := n.SlotTime(s.TipSlot); !want.Equal(s.TipTime) {
		return 0, fmt.Errorf("%w: snapshot tip slot %d is at %s on %s, the snapshot says %s", ErrFormat,
			s.TipSlot, want.Format(time.RFC3339), n.Name, s.TipTime.Format(time.RFC3339))
	}
	maxAge := p.MaxAge
	if maxAge == 0 {
		maxAge = DefaultMaxAge
	}
	if maxAge < 0 {
		return 0, fmt.Errorf("%w: a maximum age of %s", ErrStale, maxAge)
	}
	period := n.KESPeriod(s.TipSlot)
	if _, err := n.KESPeriodAt(p.Now); err != nil {
		return 0, err
	}
	if age := p.Now.Sub(s.TipTime); age > maxAge && !p.AllowStale {
		return 0, fmt.Errorf("%w: its tip is %s old (at most %s); %s", ErrStale, durfmt.Format(age.Round(time.Minute)), durfmt.Format(maxAge), s.whyOld(p.Now))
	}
	if err := CheckClock(n, period, p.Now, p.IgnoreClock); err != nil {
		return 0, fmt.Errorf("the snapshot's tip: %w", err)
	}
	return period, nil
}

// whyOld says which side is off when a snapshot's tip is old by the cold
// clock: the producer signs with its own clock (Created), so a tip far
// behind Created means the node was still syncing, while a Created far
// behind now means the snapshot was made long ago — or this machine's
// clock is ahead.
func (s *Snapshot) whyOld(now time.Time) string {
	lag := s.Created.Sub(s.TipTime)
	made := now.Sub(s.Created)
	switch {
	case lag > 10*time.Minute && lag >= made:
		return fmt.Sprintf("the producer's node was still syncing: when it signed at %s its tip was %s behind (take a new snapshot once it has caught up)",
			s.Created.UTC().Format(time.RFC3339), roundAge(lag))
	case made > 0:
		return fmt.Sprintf("the producer signed it %s before this machine's clock (%s): either it is that old, or this clock is ahead (compare 'date -u' on both)",
			roundAge(made), now.UTC().Format(time.RFC3339))
	}
	return "this machine's clock is behind the producer's"
}

func roundAge(d time.Duration) string {
	if d >= time.Hour {
		return durfmt.Format(d.Round(time.Minute))
	}
	return durfmt.Format(d.Round(time.Second))
}
