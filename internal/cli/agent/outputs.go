package agent

import (
	"time"

	"github.com/kesrotate/kesrotate/internal/cli"
	"github.com/kesrotate/kesrotate/opcert"
	"github.com/kesrotate/kesrotate/producer"
)

// outputs declares the one type each kesrotate-agent command prints with
// --json. docs/formats.md ("kesrotate-agent --json") documents each of
// them key by key; TestJSONOutputs holds the two together and the scripts
// check real output against them with jsonshape. Where the producer
// library returns a typed result, that type is the output.
var outputs = cli.Outputs{
	"kesrotate-agent init":                   initOutput{},
	"kesrotate-agent enrollment":             enrollmentOutput{},
	"kesrotate-agent snapshot":               snapshotOutput{},
	"kesrotate-agent install":                installOutput{},
	"kesrotate-agent rollback":               rollbackOutput{},
	"kesrotate-agent status":                 producer.Status{},
	"kesrotate-agent kes new":                kesNewOutput{},
	"kesrotate-agent checkpoint list":        []CheckpointView{},
	"kesrotate-agent checkpoint add":         checkpointAddOutput{},
	"kesrotate-agent checkpoint countersign": countersignOutput{},
	"kesrotate-agent check":                  producer.Report{},
	"kesrotate-agent config":                 configOutput{},
	"kesrotate-agent demote":                 demoteOutput{},
	"kesrotate-agent promote":                promoteOutput{},
	"kesrotate-agent peer add":               peerAddOutput{},
	"kesrotate-agent peer list":              []peerView{},
	"kesrotate-agent relay point-to":         relayOutput{},
	"kesrotate-agent mithril restart":        producer.SignerResult{},
}

// JSONOutputs returns the declared --json output of each kesrotate-agent
// command, keyed by command path.
func JSONOutputs() cli.Outputs { return outputs }

// initOutput is what 'kesrotate-agent init --json' prints.
type initOutput struct {
	AgentDir    string          `json:"agent_dir"` // the agent folder (--dir)
	PoolID      string          `json:"pool_id"`   // hex
	Recipient   string          `json:"recipient"` // the age recipient bundles are encrypted to
	Fingerprint string          `json:"fingerprint"`
	Check       producer.Report `json:"check"` // what 'check' reports
}

// enrollmentOutput is what 'kesrotate-agent enrollment --json' prints.
type enrollmentOutput struct {
	Fingerprint  string `json:"fingerprint"`
	Recipient    string `json:"recipient"`
	Enrollment   string `json:"enrollment"`    // the file written (--out), or ""
	EnrollmentQR string `json:"enrollment_qr"` // the QR code PNG written (--qr), or ""
}

// snapshotOutput is what 'kesrotate-agent snapshot --json' prints.
type snapshotOutput struct {
	TipSlot        uint64    `json:"tip_slot"`
	TipTime        time.Time `json:"tip_time"`
	KESPeriod      uint64    `json:"kes_period"`
	OnChainCounter string    `json:"onchain_counter"` // opcert.OnChain.Text: a decimal number or "none"
	KESOnProducer  bool      `json:"kes_on_producer"` // the snapshot carries a KES vkey made on the producer
	Snapshot       string    `json:"snapshot"`        // the file written (--out), or ""
	SnapshotQR     string    `json:"snapshot_qr"`     // the QR code PNG written (--qr), or ""
}

// installOutput is what 'kesrotate-agent install --json' prints.
type installOutput struct {
	Set              string                 `json:"set"`
	Previous         string                 `json:"previous"`
	AlreadyInstalled bool                   `json:"already_installed"`
	Adopted          bool                   `json:"adopted"`
	Counter          uint64                 `json:"counter"`
	KESPeriod        uint64                 `json:"kes_period"`
	CertHash         string                 `json:"cert_hash"`
	KESOnProducer    bool                   `json:"kes_on_producer"`
	Signalled        string                 `json:"signalled"`
	State            string                 `json:"state"`
	ConfirmedBy      []string               `json:"confirmed_by"`
	Report           *opcert.Report         `json:"report"`
	Role             string                 `json:"role"`
	MithrilSigner    *producer.SignerResult `json:"mithril_signer"`
	MithrilNote      string                 `json:"mithril_note"`
}

// rollbackOutput is what 'kesrotate-agent rollback --json' prints.
type rollbackOutput struct {
	From          string                 `json:"from"`
	To            string                 `json:"to"`
	Signalled     string                 `json:"signalled"`
	State         string                 `json:"state"`
	MithrilSigner *producer.SignerResult `json:"mithril_signer"`
	MithrilNote   string                 `json:"mithril_note"`
}

// kesNewOutput is what 'kesrotate-agent kes new --json' prints.
type kesNewOutput struct {
	KESVKey string `json:"kes_vkey"` // hex
}

// CheckpointView is one kept checkpoint: 'kesrotate-agent checkpoint list
// --json' prints an array of them.
type CheckpointView struct {
	File    string `json:"file"`
	Origin  string `json:"origin"`
	Size    int64  `json:"size"`
	Root    string `json:"root"`
	Signers int    `json:"signatures"`
}

// checkpointAddOutput is what 'kesrotate-agent checkpoint add --json'
// prints.
type checkpointAddOutput struct {
	Kept []string `json:"kept"`
}

// countersignOutput is what 'kesrotate-agent checkpoint countersign
// --json' prints.
type countersignOutput struct {
	Countersigner string   `json:"countersigner"` // the verifier key text
	Files         []string `json:"files"`
	AuditChecked  bool     `json:"audit_checked"` // --audit-key checked each audit signature first
}

// configOutput is what 'kesrotate-agent config --json' prints: the
// settings (after the change, when flags change them) and the changes
// made, none when only shown.
type configOutput struct {
	producer.Config
	Changes []producer.Changed `json:"changes"`
}

// demoteOutput is what 'kesrotate-agent demote --json' prints.
type demoteOutput struct {
	Role        string   `json:"role"`
	Staged      string   `json:"staged"`
	Signalled   string   `json:"signalled"`
	ConfirmedBy []string `json:"confirmed_by"`
	Receipt     string   `json:"receipt"`    // the file written (--out), or ""
	ReceiptQR   string   `json:"receipt_qr"` // the QR code PNG written (--qr), or ""
}

// promoteOutput is what 'kesrotate-agent promote --json' prints.
type promoteOutput struct {
	Role          string                 `json:"role"`
	Set           string                 `json:"set"`
	Proof         string                 `json:"proof"`
	Signalled     string                 `json:"signalled"`
	ConfirmedBy   []string               `json:"confirmed_by"`
	MithrilSigner *producer.SignerResult `json:"mithril_signer"`
}

// peerView is a pinned producer: 'peer add --json' prints one, 'peer list
// --json' an array of them.
type peerView struct {
	Name        string `json:"name"`
	Fingerprint string `json:"fingerprint"`
}

// peerAddOutput is what 'peer add --json' prints: the peer, and whether
// its fingerprint was compared.
type peerAddOutput struct {
	peerView
	Compared bool `json:"compared"` // false when pinned with --yes
}

// relayOutput is what 'kesrotate-agent relay point-to --json' prints.
type relayOutput struct {
	Producer    string   `json:"producer"`
	From        string   `json:"from"`
	To          string   `json:"to"`
	Changed     bool     `json:"changed"`
	Signalled   string   `json:"signalled"`
	ConfirmedBy []string `json:"confirmed_by"`
	Metrics     string   `json:"metrics"` // what --metrics-url showed, or ""
}

// nonNil is s, or an empty slice: an array never prints as null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
