package main

import (
	"bytes"
	"strings"

	"filippo.io/age"
	"github.com/btcsuite/btcd/btcutil/bech32"

	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/kesrotate/kesrotate/keys"
	"github.com/kesrotate/kesrotate/opcert"
	"github.com/kesrotate/kesrotate/transfer"
)

// seed derives a 32-byte seed from a label: SHA-256("kesrotate test vector " + label).
func seed(label string) []byte {
	h := sha256.Sum256([]byte("kesrotate test vector " + label))
	return h[:]
}

// Generate returns the vector files by name. Everything is a function of the
// labels below, so every run gives the same bytes.
func Generate() (map[string][]byte, error) {
	files := map[string][]byte{}
	cold, err := keys.NewColdKey(seed("cold"))
	if err != nil {
		return nil, err
	}
	vrfKey, err := keys.NewVRFKey(seed("vrf"))
	if err != nil {
		return nil, err
	}
	kesKey, err := keys.NewKESKey(seed("kes"))
	if err != nil {
		return nil, err
	}
	vk, vrfVK, kesVK := cold.Public(), vrfKey.Public(), kesKey.Public()
	const counter, period = 7, 1571
	cert := opcert.Issue(cold, kesVK, counter, period)
	files["cold.skey"] = cold.MarshalEnvelope()
	files["cold.vkey"] = vk.MarshalEnvelope()
	files["cold.counter"] = keys.Counter{Next: counter + 1, Cold: vk}.MarshalEnvelope()
	files["vrf.skey"] = vrfKey.MarshalEnvelope()
	files["vrf.vkey"] = vrfVK.MarshalEnvelope()
	files["kes.skey"] = kesKey.MarshalEnvelope()
	files["kes.vkey"] = kesVK.MarshalEnvelope()
	files["node.cert"] = cert.MarshalEnvelope()

	// A KES signature at evolution 5 of a fixed message.
	msg := []byte("kesrotate KES test message")
	sig5, err := kesKey.Sign(5, msg)
	if err != nil {
		return nil, err
	}
	certCBOR, err := cert.MarshalCBOR()
	if err != nil {
		return nil, err
	}
	vrfHash := vrfVK.Hash()

	// Transfer files, signed by a producer key of its own label. Ed25519
	// signatures are deterministic; times are fixed.
	producer := ed25519.NewKeyFromSeed(seed("producer"))
	created := time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)
	conv, err := bech32.ConvertBits(seed("age"), 8, 5, true)
	if err != nil {
		return nil, err
	}
	idText, err := bech32.Encode("age-secret-key-", conv)
	if err != nil {
		return nil, err
	}
	identity, err := age.ParseX25519Identity(strings.ToUpper(idText))
	if err != nil {
		return nil, err
	}
	enroll := &transfer.Enrollment{Name: "bp1", Magic: opcert.Mainnet.Magic, PoolID: vk.PoolID(),
		Recipient: identity.Recipient().String(),
		SignKey:   producer.Public().(ed25519.PublicKey), Created: created}
	enrollBytes, err := enroll.Marshal(producer)
	if err != nil {
		return nil, err
	}
	files["enrollment.kre"] = enrollBytes
	tip := opcert.Mainnet.PeriodStartSlot(period) + 3600
	snap := &transfer.Snapshot{Magic: opcert.Mainnet.Magic, SlotsPerKESPeriod: 129600, MaxKESEvolutions: 62,
		TipSlot: tip, TipTime: opcert.Mainnet.SlotTime(tip), PoolID: vk.PoolID(), OnChain: opcert.Recorded(counter - 1),
		Installed: &transfer.Installed{Counter: counter - 1, KESPeriod: period - 60, CertHash: hex.EncodeToString(make([]byte, 32))},
		Created:   created}
	files["snapshot.kss"] = snap.Marshal(producer)

	summary := map[string]any{
		"generator":              "go run ./internal/tools/genvectors -out testvectors",
		"seeds":                  `SHA-256("kesrotate test vector " + label), labels cold, vrf, kes, producer, age`,
		"network":                "mainnet",
		"pool_id":                vk.PoolID().Hex(),
		"pool_id_bech32":         vk.PoolID().Bech32(),
		"cold_vkey":              hex.EncodeToString(vk[:]),
		"vrf_vkey":               hex.EncodeToString(vrfVK[:]),
		"vrf_key_hash":           hex.EncodeToString(vrfHash[:]),
		"kes_vkey":               hex.EncodeToString(kesVK[:]),
		"cert_counter":           counter,
		"cert_kes_period":        period,
		"cert_signable":          hex.EncodeToString(opcert.Signable(kesVK, counter, period)),
		"cert_cbor":              hex.EncodeToString(certCBOR),
		"cert_hash_sha256":       cert.Hash(),
		"cert_expiry":            cert.Expiry(opcert.Mainnet).Format(time.RFC3339),
		"kes_message":            string(msg),
		"kes_signature_t5":       hex.EncodeToString(sig5),
		"enrollment_fingerprint": enroll.Fingerprint(),
		"producer_age_identity":  identity.String(),
		"producer_age_recipient": identity.Recipient().String(),
		"snapshot_tip_slot":      tip,
		"snapshot_kes_period":    opcert.Mainnet.KESPeriod(tip),
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(summary); err != nil {
		return nil, fmt.Errorf("summary: %w", err)
	}
	files["vectors.json"] = b.Bytes()
	return files, nil
}
