package opcert

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strings"
	"time"

	"github.com/kesrotate/kesrotate/internal/textsafe"
)

// Network holds what KES period arithmetic needs to know about a chain.
// Absolute slots count the Byron era's 20-second slots one each, so a
// period is not simply (now - systemStart) / slotsPerKESPeriod.
type Network struct {
	Name              string
	Magic             uint32
	SlotsPerKESPeriod uint64
	MaxKESEvolutions  uint64
	SystemStart       time.Time
	ByronSlots        uint64        // slots before the Shelley era (0 if the chain starts in Shelley)
	ByronSlotLength   time.Duration // 20 s on the public networks
	SlotLength        time.Duration // from the Shelley era on
	EpochLength       uint64        // slots per epoch from the Shelley era on (0: the genesis did not say)
}

// The public networks. Their Byron eras are fixed history.
var (
	Mainnet = Network{
		Name: "mainnet", Magic: 764824073, SlotsPerKESPeriod: 129600, MaxKESEvolutions: 62,
		SystemStart: time.Unix(1506203091, 0).UTC(), ByronSlots: 4492800,
		ByronSlotLength: 20 * time.Second, SlotLength: time.Second, EpochLength: 432000,
	}
	Preprod = Network{
		Name: "preprod", Magic: 1, SlotsPerKESPeriod: 129600, MaxKESEvolutions: 62,
		SystemStart: time.Unix(1654041600, 0).UTC(), ByronSlots: 86400,
		ByronSlotLength: 20 * time.Second, SlotLength: time.Second, EpochLength: 432000,
	}
	Preview = Network{
		Name: "preview", Magic: 2, SlotsPerKESPeriod: 129600, MaxKESEvolutions: 62,
		SystemStart: time.Unix(1666656000, 0).UTC(), ByronSlots: 0,
		ByronSlotLength: 20 * time.Second, SlotLength: time.Second, EpochLength: 86400,
	}
)

// Networks lists the public networks by name.
var Networks = []Network{Mainnet, Preprod, Preview}

// NetworkByMagic returns the public network with that magic: mainnet
// (764824073), preprod (1) or preview (2). Any other network is known only
// by its genesis file.
func NetworkByMagic(magic uint32) (Network, error) {
	for _, n := range Networks {
		if n.Magic == magic {
			return n, nil
		}
	}
	return Network{}, fmt.Errorf("%w: magic %d is not mainnet (%d), preprod (%d) or preview (%d)", ErrUnknownNetwork, magic, Mainnet.Magic, Preprod.Magic, Preview.Magic)
}

// NetworkByName returns mainnet, preprod or preview.
func NetworkByName(name string) (Network, error) {
	for _, n := range Networks {
		if n.Name == name {
			return n, nil
		}
	}
	return Network{}, fmt.Errorf("%w %q: want mainnet, preprod or preview, or a shelley genesis file", ErrUnknownNetwork, name)
}

// ParseGenesis reads the KES parameters of a shelley genesis file. A
// genesis of one of the public networks gives that network (with its Byron
// era); any other network is taken to start in the Shelley era at slot 0,
// as test networks and devnets do.
func ParseGenesis(data []byte) (Network, error) {
	var g struct {
		NetworkMagic      *uint32      `json:"networkMagic"`
		SlotsPerKESPeriod *uint64      `json:"slotsPerKESPeriod"`
		MaxKESEvolutions  *uint64      `json:"maxKESEvolutions"`
		SystemStart       *time.Time   `json:"systemStart"`
		SlotLength        *json.Number `json:"slotLength"`
		EpochLength       uint64       `json:"epochLength"`
	}
	if err := json.Unmarshal(data, &g); err != nil {
		return Network{}, fmt.Errorf("%w: %v", ErrGenesis, textsafe.JSONError(err))
	}
	var missing []string
	if g.NetworkMagic == nil {
		missing = append(missing, "networkMagic")
	}
	if g.SlotsPerKESPeriod == nil || *g.SlotsPerKESPeriod == 0 {
		missing = append(missing, "slotsPerKESPeriod")
	}
	if g.MaxKESEvolutions == nil || *g.MaxKESEvolutions == 0 {
		missing = append(missing, "maxKESEvolutions")
	}
	if g.SystemStart == nil {
		missing = append(missing, "systemStart")
	}
	if g.SlotLength == nil {
		missing = append(missing, "slotLength")
	}
	if len(missing) > 0 {
		return Network{}, fmt.Errorf("%w: missing or zero %s", ErrGenesis, strings.Join(missing, ", "))
	}
	slotLen, ok := new(big.Rat).SetString(g.SlotLength.String())
	if !ok || slotLen.Sign() <= 0 {
		return Network{}, fmt.Errorf("%w: slotLength %q", ErrGenesis, g.SlotLength.String())
	}
	ns := new(big.Rat).Mul(slotLen, big.NewRat(int64(time.Second), 1))
	if !ns.IsInt() || !ns.Num().IsInt64() || ns.Num().Int64() <= 0 {
		return Network{}, fmt.Errorf("%w: slotLength %q is not a whole number of nanoseconds", ErrGenesis, g.SlotLength.String())
	}
	if *g.MaxKESEvolutions > 64 {
		return Network{}, fmt.Errorf("%w: maxKESEvolutions %d exceeds the 64 periods of a Sum6KES key", ErrGenesis, *g.MaxKESEvolutions)
	}
	n := Network{
		Name:              fmt.Sprintf("magic-%d", *g.NetworkMagic),
		Magic:             *g.NetworkMagic,
		SlotsPerKESPeriod: *g.SlotsPerKESPeriod,
		MaxKESEvolutions:  *g.MaxKESEvolutions,
		SystemStart:       g.SystemStart.UTC(),
		ByronSlotLength:   20 * time.Second,
		SlotLength:        time.Duration(ns.Num().Int64()),
		EpochLength:       g.EpochLength,
	}
	for _, p := range Networks {
		if p.Magic == n.Magic && p.SlotsPerKESPeriod == n.SlotsPerKESPeriod && p.MaxKESEvolutions == n.MaxKESEvolutions {
			shelleyStart := p.ShelleyStart()
			if n.SystemStart.Equal(p.SystemStart) || n.SystemStart.Equal(shelleyStart) {
				return p, nil
			}
		}
	}
	return n, nil
}

// ShelleyStart is the time of the first Shelley slot.
func (n Network) ShelleyStart() time.Time {
	return n.SystemStart.Add(time.Duration(n.ByronSlots) * n.ByronSlotLength)
}

// FarFuture is where time arithmetic on slots and periods saturates: the
// start of a slot or period later than it (numbers from a file can be any
// uint64) is FarFuture, so that nothing beyond it ever counts as started.
var FarFuture = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)

// SlotTime is the start time of an absolute slot, or FarFuture for a slot
// that starts after it.
func (n Network) SlotTime(slot uint64) time.Time {
	if slot < n.ByronSlots {
		return addSlots(n.SystemStart, slot, n.ByronSlotLength)
	}
	return addSlots(n.ShelleyStart(), slot-n.ByronSlots, n.SlotLength)
}

// addSlots is base + slots×length, saturating at FarFuture instead of
// overflowing time.Duration.
func addSlots(base time.Time, slots uint64, length time.Duration) time.Time {
	if length <= 0 {
		return base
	}
	if slots > uint64(math.MaxInt64/int64(length)) {
		return FarFuture
	}
	d := time.Duration(slots) * length
	if FarFuture.Sub(base) < d {
		return FarFuture
	}
	return base.Add(d)
}

// SlotAt is the absolute slot in progress at t.
func (n Network) SlotAt(t time.Time) (uint64, error) {
	if t.Before(n.SystemStart) {
		return 0, fmt.Errorf("%w: %s is before %s's start %s", ErrBeforeSystemStart,
			t.UTC().Format(time.RFC3339), n.Name, n.SystemStart.Format(time.RFC3339))
	}
	shelley := n.ShelleyStart()
	if t.Before(shelley) {
		return uint64(t.Sub(n.SystemStart) / n.ByronSlotLength), nil
	}
	return n.ByronSlots + uint64(t.Sub(shelley)/n.SlotLength), nil
}

// KESPeriod is floor(slot / slotsPerKESPeriod).
func (n Network) KESPeriod(slot uint64) uint64 { return slot / n.SlotsPerKESPeriod }

// KESPeriodAt is the KES period in progress at t.
func (n Network) KESPeriodAt(t time.Time) (uint64, error) {
	s, err := n.SlotAt(t)
	if err != nil {
		return 0, err
	}
	return n.KESPeriod(s), nil
}

// PeriodStartSlot is the first slot of KES period p.
func (n Network) PeriodStartSlot(p uint64) uint64 {
	if p > math.MaxUint64/n.SlotsPerKESPeriod {
		return math.MaxUint64
	}
	return p * n.SlotsPerKESPeriod
}

// PeriodStart is the instant KES period p begins.
func (n Network) PeriodStart(p uint64) time.Time { return n.SlotTime(n.PeriodStartSlot(p)) }

// PeriodLength is the wall-clock length of a KES period in the Shelley
// era (the longest time.Duration if it is longer).
func (n Network) PeriodLength() time.Duration {
	if n.SlotLength <= 0 || n.SlotsPerKESPeriod > uint64(math.MaxInt64/int64(n.SlotLength)) {
		return math.MaxInt64
	}
	return time.Duration(n.SlotsPerKESPeriod) * n.SlotLength
}

// AddPeriods is p + k, saturating at the largest uint64 (a period no time
// reaches) instead of wrapping.
func AddPeriods(p, k uint64) uint64 {
	if p > math.MaxUint64-k {
		return math.MaxUint64
	}
	return p + k
}

// GenesisName is how vault and agent configurations name a network that
// comes from a shelley genesis file kept beside them.
const GenesisName = "genesis"

// NetworkOf resolves a network as a configuration stores it: a public
// network's name, or GenesisName with readGenesis giving the genesis file.
func NetworkOf(name string, readGenesis func() ([]byte, error)) (Network, error) {
	if name != GenesisName {
		return NetworkByName(name)
	}
	g, err := readGenesis()
	if err != nil {
		return Network{}, err
	}
	return ParseGenesis(g)
}

// plausibleAfterEnd is how many periods after its window ended a cert
// still plausibly belongs to a network: 20 periods, a month on the public
// networks. Preprod runs 85 periods ahead of preview and mainnet about
// 500 ahead of preprod, so the windows plus this slack never overlap.
const plausibleAfterEnd = 20

// Plausible reports whether a cert starting at KES period start could be
// one of this network's at time now: it starts no later than the next
// period and its window ended less than a month ago. A cert is plausible
// on at most one public network, so a tool that assumed a network can ask
// before calling a cert of another chain expired or not yet valid.
func (n Network) Plausible(start uint64, now time.Time) bool {
	cur, err := n.KESPeriodAt(now)
	if err != nil {
		return false
	}
	return start <= AddPeriods(cur, 1) && cur < AddPeriods(start, n.MaxKESEvolutions+plausibleAfterEnd)
}

// PlausibleNetworks lists the public networks on which a cert starting at
// KES period start is plausible at time now.
func PlausibleNetworks(start uint64, now time.Time) []Network {
	var out []Network
	for _, n := range Networks {
		if n.Plausible(start, now) {
			out = append(out, n)
		}
	}
	return out
}

// OtherNetworkError says that a cert read on a network nothing named (the
// default) plainly belongs to another public network: judged on the
// assumed one, a preprod cert would look expired, which is worse than no
// answer.
type OtherNetworkError struct {
	Start   uint64  // the cert's first KES period
	Assumed Network // the network assumed
	Current uint64  // the assumed network's current period
	Likely  Network // the public network the cert fits
}

func (e *OtherNetworkError) Error() string {
	return fmt.Sprintf("KES period %d looks like a %s cert, not %s (current period %d)", e.Start, e.Likely.Name, e.Assumed.Name, e.Current)
}

// CheckAssumed is for a network that was assumed, not named: it returns an
// *OtherNetworkError when a cert starting at KES period start cannot be
// n's at time now but is plausible on another public network. A cert
// plausible nowhere is left for the period checks to judge.
func (n Network) CheckAssumed(start uint64, now time.Time) error {
	if n.Plausible(start, now) {
		return nil
	}
	others := PlausibleNetworks(start, now)
	if len(others) == 0 {
		return nil
	}
	cur, _ := n.KESPeriodAt(now)
	return &OtherNetworkError{Start: start, Assumed: n, Current: cur, Likely: others[0]}
}
