package transfer

import (
	"crypto/ed25519"
	"fmt"
	"time"

	"github.com/kesrotate/kesrotate/keys"
)

// A demotion receipt is what a producer that has stopped forging signs for
// the producer that takes over: which pool, which producer, when, the cert
// it held, and how it confirmed that its node no longer forges. It travels
// producer to producer as a file or a QR code.
const (
	MagicReceipt = "kesrotate-demotion"
	URReceipt    = "kesrotate-demotion"
)

const receiptDomain = "kesrotate demotion receipt v1"

// Receipt is a signed demotion receipt.
type Receipt struct {
	Magic    uint32
	PoolID   keys.PoolID
	Producer string // the demoted producer's enrollment fingerprint
	Name     string // its name (informative)
	TipSlot  uint64 // the chain's slot when it demoted
	Held     *Installed
	// ConfirmedBy says what showed forging off: "metrics", "log", or
	// both joined by " and ".
	ConfirmedBy string
	Created     time.Time
}

type wireReceiptBody struct {
	_            struct{} `cbor:",toarray"`
	Magic        string
	Version      uint64
	Network      uint32
	PoolID       []byte
	Producer     string
	Name         string
	TipSlot      uint64
	HasHeld      bool
	HeldCounter  uint64
	HeldPeriod   uint64
	HeldCertHash string
	ConfirmedBy  string
	Created      int64
}

// Marshal signs the receipt with the demoted producer's snapshot key.
func (r *Receipt) Marshal(signer ed25519.PrivateKey) []byte {
	w := wireReceiptBody{Magic: MagicReceipt, Version: Version, Network: r.Magic, PoolID: r.PoolID[:], Producer: r.Producer,
		Name: r.Name, TipSlot: r.TipSlot, ConfirmedBy: r.ConfirmedBy, Created: r.Created.Unix()}
	if r.Held != nil {
		w.HasHeld, w.HeldCounter, w.HeldPeriod, w.HeldCertHash = true, r.Held.Counter, r.Held.KESPeriod, r.Held.CertHash
	}
	body := encode(w)
	return encode(wireSigned{Body: body, Sig: ed25519.Sign(signer, signedMessage(receiptDomain, body))})
}

// ReceiptSigner returns the fingerprint the receipt names, before its
// signature is checked: the caller looks up the pinned producer by it and
// then calls ParseReceipt with that producer's key.
func ReceiptSigner(data []byte) (string, error) {
	sw, err := decodeSigned("demotion receipt", MagicReceipt, data)
	if err != nil {
		return "", err
	}
	var w wireReceiptBody
	if err := decode("demotion receipt body", sw.Body, &w); err != nil {
		return "", err
	}
	if err := checkHead("demotion receipt", w.Magic, w.Version, MagicReceipt); err != nil {
		return "", err
	}
	return w.Producer, nil
}

// ParseReceipt reads a receipt and checks its signature against the
// producer key it must come from. Nothing in it is trusted before that.
func ParseReceipt(data []byte, producer ed25519.PublicKey) (*Receipt, error) {
	sw, err := decodeSigned("demotion receipt", MagicReceipt, data)
	if err != nil {
		return nil, err
	}
	if !ed25519.Verify(producer, signedMessage(receiptDomain, sw.Body), sw.Sig) {
		return nil, fmt.Errorf("%w: the receipt was not signed by that producer, or was changed after signing", ErrSignature)
	}
	var w wireReceiptBody
	if err := decode("demotion receipt body", sw.Body, &w); err != nil {
		return nil, err
	}
	if err := checkHead("demotion receipt", w.Magic, w.Version, MagicReceipt); err != nil {
		return nil, err
	}
	if err := fixed("demotion receipt pool id", w.PoolID, keys.PoolIDSize); err != nil {
		return nil, err
	}
	r := &Receipt{Magic: w.Network, Producer: w.Producer, Name: w.Name, TipSlot: w.TipSlot, ConfirmedBy: w.ConfirmedBy,
		Created: time.Unix(w.Created, 0).UTC()}
	copy(r.PoolID[:], w.PoolID)
	if w.HasHeld {
		r.Held = &Installed{Counter: w.HeldCounter, KESPeriod: w.HeldPeriod, CertHash: w.HeldCertHash}
	} else if w.HeldCounter != 0 || w.HeldPeriod != 0 || w.HeldCertHash != "" {
		return nil, fmt.Errorf("%w: receipt has cert fields without a cert", ErrFormat)
	}
	return r, nil
}
