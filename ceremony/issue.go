package ceremony

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"golang.org/x/crypto/blake2b"

	"github.com/kesrotate/kesrotate/internal/safefile"
	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/opcert"
	"github.com/kesrotate/kesrotate/transfer"
)

// IssueRequest is what one cert issue needs to know.
type IssueRequest struct {
	KESPeriod    uint64         // the period the cert starts in (from the chain tip)
	TipSlot      uint64         // the chain's slot the period came from; used for the self-check
	OnChain      opcert.OnChain // the pool's counter on chain
	ForceCounter *uint64        // overrides the counter rules (journaled)
	KESVKey      *keys.KESVKey  // KES-on-producer mode: certify this key, generate none
	Producer     string
	SealedTo     []string // every producer the bundle goes to, when several
	WithVRF      bool     // the bundle carries the VRF signing key
	Now          time.Time
	Log          IssueLog // what the ceremony log records beyond the cert (log.go)
}

// IssueResult is a freshly issued cert and, unless the KES key lives on the
// producer, its fresh KES signing key (the caller must Wipe it).
type IssueResult struct {
	Cert   *opcert.Certificate
	KES    *keys.KESKey
	Entry  JournalEntry
	Chosen uint64 // the counter the rules chose (equal to Cert.Counter unless forced); meaningless when RulesRefused is set
	Forced bool
	// RulesRefused is why the counter rules refused, when the counter was
	// forced past a refusal (then they chose nothing).
	RulesRefused error
	History      opcert.History

	// Checkpoint is the ceremony-log checkpoint note covering the
	// cert-issued entry: it travels in the bundle.
	Checkpoint []byte
}

// crashPoint calls the vault's test hook, if a test set one, between the
// steps of an action; an error stops the action there as a crash would.
// The hook is the vault's own, so tests running in parallel never reach
// each other's.
func (v *Vault) crashPoint(step string) error {
	if v.crash != nil {
		return v.crash(step)
	}
	return nil
}

// KESVKeyHash is the hex blake2b-256 of a KES verification key, as the
// journal and the ceremony log record it.
func KESVKeyHash(vk keys.KESVKey) string {
	h := blake2b.Sum256(vk[:])
	return hex.EncodeToString(h[:])
}

// Issue chooses the counter by the Praos operator rule (or the forced one),
// generates the KES key (unless given its vkey), signs the cert with the
// cold key, checks it the way the node will, makes the journal entry
// durable, and only then writes the cert and the cardano-cli counter file.
// A refusal changes nothing.
func (p *Pool) Issue(req IssueRequest) (_ *IssueResult, err error) {
	release, err := p.v.Acquire("rotate")
	if err != nil {
		return nil, err
	}
	defer release()
	defer func() {
		if err != nil {
			p.v.forgetLog() // the next command records what this one left unlogged
		}
	}()
	cc, err := p.chooseCounter(req.OnChain, req.ForceCounter)
	if err != nil {
		return nil, err
	}
	n, chosen, entries := cc.n, cc.chosen, cc.entries
	res := &IssueResult{Chosen: chosen, Forced: cc.forced, RulesRefused: cc.refused, History: cc.history}
	var kesVK keys.KESVKey
	if req.KESVKey != nil {
		kesVK = *req.KESVKey
	} else {
		if res.KES, err = keys.GenerateKESKey(p.v.Rand); err != nil {
			return nil, err
		}
		defer func() {
			if err != nil {
				res.KES.Wipe()
			}
		}()
		kesVK = res.KES.Public()
	}
	cold, err := p.ColdKey()
	if err != nil {
		return nil, err
	}
	cert := opcert.Issue(cold, kesVK, n, req.KESPeriod)
	coldVK := cold.Public()
	cold.Wipe()

	if err := p.selfCheck(cert, coldVK, res.KES, req.TipSlot); err != nil {
		return nil, fmt.Errorf("self-check of the new cert failed, nothing was written: %w", err)
	}
	e, err := req.issuedEntry(cert, res.Forced)
	if err != nil {
		return nil, err
	}
	pi, err := p.prepareIssue(req, e, cert.MarshalEnvelope(), chosen, res.RulesRefused)
	if err != nil {
		return nil, err
	}
	if err := pi.appendBefore(); err != nil {
		return nil, err
	}
	if err := p.v.crashPoint("before-journal"); err != nil {
		return nil, err
	}
	if err := p.appendJournal(e, len(entries)); err != nil {
		return nil, err
	}
	// From here on the cert is journaled: every failure says so.
	if err := p.v.crashPoint("after-journal"); err != nil {
		return nil, issuedNotLogged(e, err)
	}
	if res.Checkpoint, err = pi.appendCert(); err != nil {
		return nil, issuedNotLogged(e, err)
	}
	if err := p.Repair(); err != nil {
		return nil, afterIssue(e, err)
	}
	entries, err = p.Journal()
	if err != nil {
		return nil, afterIssue(e, err)
	}
	res.Cert, res.Entry = cert, entries[len(entries)-1]
	return res, nil
}

// counterChoice is the counter an issue takes and what it was chosen from.
type counterChoice struct {
	n, chosen uint64 // the number to issue; the one the rules chose
	forced    bool
	// refused is why the rules refused, when the counter was forced past
	// a refusal (then chosen means nothing).
	refused error
	history opcert.History
	entries []JournalEntry // the journal it was chosen from
}

// chooseCounter brings the files in line with the journal and chooses the
// next counter by the Praos operator rule from the journal and the chain's
// counter, or takes the forced one (journaled as such).
func (p *Pool) chooseCounter(onchain opcert.OnChain, force *uint64) (counterChoice, error) {
	if err := p.Repair(); err != nil {
		return counterChoice{}, err
	}
	entries, err := p.Journal()
	if err != nil {
		return counterChoice{}, err
	}
	h, err := History(entries)
	if err != nil {
		return counterChoice{}, err
	}
	chosen, ruleErr := opcert.NextCounter(onchain, h)
	n := chosen
	if force != nil {
		n = *force
	} else if ruleErr != nil {
		return counterChoice{}, ruleErr
	}
	if n > opcert.MaxCounter {
		return counterChoice{}, fmt.Errorf("%w: cert number %d leaves the counter file no next number", opcert.ErrCounterExhausted, n)
	}
	cc := counterChoice{n: n, chosen: chosen, forced: force != nil, history: h, entries: entries}
	if force != nil {
		cc.refused = ruleErr
	}
	return cc, nil
}

// selfCheck checks a new cert as the node will see it at the tip slot:
// the signature, the window, the KES key certified and a round trip at the
// node's evolution (without kes, a key made on the producer: not checked).
func (p *Pool) selfCheck(cert *opcert.Certificate, coldVK keys.ColdVKey, kes *keys.KESKey, tipSlot uint64) error {
	slot := tipSlot
	if p.v.Network.KESPeriod(slot) != cert.KESPeriod {
		slot = p.v.Network.PeriodStartSlot(cert.KESPeriod)
	}
	_, err := opcert.Verify(opcert.Inputs{Cert: cert, Network: p.v.Network, Slot: slot, Cold: &coldVK, KES: kes})
	return err
}

// issuedEntry is the journal entry of cert, issued for req.
func (req IssueRequest) issuedEntry(cert *opcert.Certificate, forced bool) (JournalEntry, error) {
	certCBOR, err := cert.MarshalCBOR()
	if err != nil {
		return JournalEntry{}, err
	}
	e := JournalEntry{
		Kind: KindIssued, Time: req.Now.UTC().Truncate(time.Second),
		Counter: cert.Counter, KESPeriod: cert.KESPeriod, KESVKeyHash: KESVKeyHash(cert.KESVKey),
		CertHash: cert.Hash(), Cert: hex.EncodeToString(certCBOR),
		OnChain: req.OnChain.Text(), Forced: forced,
		KESOnProducer: req.KESVKey != nil, Producer: req.Producer, SealedTo: req.SealedTo, TipSlot: req.TipSlot,
		WithVRF: req.WithVRF, Overrides: req.overrideNames(),
	}
	if req.Log.Snapshot != nil {
		e.SnapshotSHA256 = transfer.FileHash(req.Log.Snapshot)
	}
	return e, nil
}

// overrideNames lists the overrides an issue used, sorted.
func (req IssueRequest) overrideNames() []string {
	var out []string
	for k := range req.Log.Overrides {
		if k != DetailSystemTime {
			out = append(out, k)
		}
	}
	if req.ForceCounter != nil {
		out = append(out, OverrideForceCounter)
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// CertFile is the path of an issued cert inside the vault.
func (p *Pool) CertFile(e JournalEntry) string {
	return filepath.Join(p.Dir, certsDir, fmt.Sprintf("%04d-%05d-%s.cert", e.Counter, e.KESPeriod, e.CertHash[:12]))
}

// Repair brings the cert files and the cardano-cli counter file in line
// with the journal: a crash after the journal entry and before the files
// leaves them behind, and this finishes the job.
func (p *Pool) Repair() error {
	entries, err := p.Journal()
	if err != nil {
		return err
	}
	for _, e := range Issued(entries) {
		path := p.CertFile(e)
		if _, err := os.Stat(path); err == nil {
			continue
		}
		c, err := e.Certificate()
		if err != nil {
			return err
		}
		if err := p.v.crashPoint("before-cert-file"); err != nil {
			return err
		}
		if err := safefile.Create(path, c.MarshalEnvelope(), 0o644); err != nil {
			return err
		}
	}
	issued := Issued(entries)
	if len(issued) == 0 {
		return nil
	}
	last := issued[len(issued)-1].Counter
	if last > opcert.MaxCounter {
		return fmt.Errorf("%w: entry %d holds cert number %d, which has no next number", ErrJournal, issued[len(issued)-1].Seq, last)
	}
	want := keys.Counter{Next: last + 1}
	vk, err := p.ColdVKey()
	if err != nil {
		return err
	}
	want.Cold = vk
	path := filepath.Join(p.Dir, counterFile)
	if cur, err := os.ReadFile(path); err == nil {
		if c, err := keys.ParseCounter(cur); err == nil && c == want {
			return nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := p.v.crashPoint("before-counter-file"); err != nil {
		return err
	}
	return safefile.Replace(path, want.MarshalEnvelope(), 0o644)
}

// Counter reads the pool's cardano-cli counter file.
func (p *Pool) Counter() (keys.Counter, error) {
	b, err := os.ReadFile(filepath.Join(p.Dir, counterFile))
	if err != nil {
		return keys.Counter{}, err
	}
	return keys.ParseCounter(b)
}
