package cold

import (
	"time"

	"github.com/kesrotate/kesrotate/ceremony"
	"github.com/kesrotate/kesrotate/internal/airgap"
	"github.com/kesrotate/kesrotate/internal/cli"
	"github.com/kesrotate/kesrotate/opcert"
	"github.com/kesrotate/kesrotate/plan"
)

// outputs declares the one type each kesrotate command prints with --json.
// docs/formats.md ("JSON output") documents each of them key by key;
// TestJSONOutputs holds the two together and the scripts check real output
// against them with jsonshape.
var outputs = cli.Outputs{
	"kesrotate init": initOutput{},

	"kesrotate pool new":           poolSummary{},
	"kesrotate pool import":        poolSummary{},
	"kesrotate pool import-hw":     poolSummary{},
	"kesrotate pool show":          PoolView{},
	"kesrotate pool list":          []PoolView{},
	"kesrotate pool export-public": filesOutput{},
	"kesrotate pool retire-keys":   retireOutput{},
	"kesrotate backup restore":     poolSummary{},

	"kesrotate producer add":    producerAdded{},
	"kesrotate producer list":   []producerView{},
	"kesrotate producer remove": producerRemoved{},

	"kesrotate vault encrypt":     encryptOutput{},
	"kesrotate vault status":      vaultStatus{},
	"kesrotate vault export-keys": filesOutput{},

	"kesrotate backup shares":        sharesOutput{},
	"kesrotate backup vault":         backupOutput{},
	"kesrotate backup restore-vault": restoreVaultOutput{},

	"kesrotate airgap check": airgapOutput{},

	"kesrotate qr frames": qrFramesOutput{},
	"kesrotate qr show":   qrShowOutput{},

	"kesrotate ceremony show":   ceremonyShowOutput{},
	"kesrotate ceremony export": ceremonyExportOutput{},
	"kesrotate ceremony verify": VerifyView{},
	"kesrotate ceremony seal":   ceremonySealOutput{},

	"kesrotate verify":       opcert.Report{},
	"kesrotate plan":         plan.Report{},
	"kesrotate fleet rotate": fleetOutput{},
	"kesrotate rotate":       rotateOutput{},
}

// initOutput is what 'kesrotate init --json' prints.
type initOutput struct {
	Vault   string `json:"vault"`    // the vault folder
	VaultID string `json:"vault_id"` // the vault's id, in every log entry
	Network string `json:"network"`
	Magic   uint32 `json:"magic"`
}

// poolSummary is what the commands that add a pool print: pool new,
// import, import-hw and backup restore.
type poolSummary struct {
	Name         string `json:"name"`
	PoolID       string `json:"pool_id"`
	PoolIDBech32 string `json:"pool_id_bech32"`
	Origin       string `json:"origin"`            // "new" or "import"
	HWPath       string `json:"hw_path,omitempty"` // the cold key is on a hardware wallet, at this path
}

// filesOutput lists the files a command wrote.
type filesOutput struct {
	Files []string `json:"files"`
}

// retireOutput is what 'pool retire-keys --json' prints.
type retireOutput struct {
	Pool      string    `json:"pool"`
	PoolID    string    `json:"pool_id"`
	Destroyed []string  `json:"destroyed"` // names of the files that held secret keys
	Time      time.Time `json:"time"`
}

// producerAdded is what 'producer add --json' prints.
type producerAdded struct {
	Name        string `json:"name"`
	Fingerprint string `json:"fingerprint"`
	PoolID      string `json:"pool_id"`
	Recipient   string `json:"recipient"` // the age recipient bundles are sealed to
	PinnedSeq   int64  `json:"pinned_seq"`
	ColdSigned  bool   `json:"cold_signed"`
	Compared    bool   `json:"fingerprint_compared"`
}

// producerView is one pinned producer of 'producer list --json'.
type producerView struct {
	Name        string `json:"name"`
	Fingerprint string `json:"fingerprint"`
	PoolID      string `json:"pool_id"`
}

// producerRemoved is what 'producer remove --json' prints.
type producerRemoved struct {
	Name        string `json:"name"`
	Fingerprint string `json:"fingerprint"`
	PoolID      string `json:"pool_id"`
	PinnedSeq   int64  `json:"pinned_seq"`  // the log entry that pinned it
	RemovedSeq  int64  `json:"removed_seq"` // the log entry that removed it
}

// encryptOutput is what 'vault encrypt --json' prints.
type encryptOutput struct {
	Mode      string   `json:"mode"`
	Encrypted []string `json:"encrypted"`
}

// vaultStatus is what 'vault status --json' prints.
type vaultStatus struct {
	SecretsMode   string `json:"secrets"`
	RequireAirgap bool   `json:"require_airgap"`
	Networked     bool   `json:"networked"`
	Recipient     string `json:"recipient,omitempty"`
}

// sharesOutput is what 'backup shares --json' prints.
type sharesOutput struct {
	Pool         string   `json:"pool"`
	PoolID       string   `json:"pool_id"`
	PoolIDBech32 string   `json:"pool_id_bech32"`
	Threshold    int      `json:"threshold"`
	Shares       int      `json:"shares"`
	Files        []string `json:"files"`
}

// backupOutput is what 'backup vault --json' prints.
type backupOutput struct {
	File   string `json:"file"`
	SHA256 string `json:"sha256"`
	Bytes  int    `json:"bytes"`
	Files  int    `json:"files"` // files in the archive
}

// restoreVaultOutput is what 'backup restore-vault --json' prints.
type restoreVaultOutput struct {
	Vault       string   `json:"vault"`
	VaultID     string   `json:"vault_id"`
	Pools       []string `json:"pools"`
	Files       int      `json:"files"`
	LogEntries  int      `json:"log_entries"`
	Certs       int      `json:"certs"`
	SecretsMode string   `json:"secrets"`
}

// airgapOutput is what 'airgap check --json' prints. The lists are empty
// when the state could not be read (findings says so).
type airgapOutput struct {
	Airgapped     bool               `json:"airgapped"`
	Findings      []string           `json:"findings"`
	Interfaces    []airgap.Interface `json:"interfaces"`
	DefaultRoutes []airgap.Route     `json:"default_routes"`
	Radios        []airgap.Radio     `json:"radios"`
}

// qrFramesOutput is what 'qr frames --json' prints.
type qrFramesOutput struct {
	Bundle       string   `json:"bundle"`
	BundleSHA256 string   `json:"bundle_sha256"`
	Fragments    int      `json:"fragments"`
	FirstFrame   int      `json:"first_frame"`
	Frames       []string `json:"frames"` // the frame images
	Files        []string `json:"files"`  // the frame images and the contact sheet
	DefaultSet   int      `json:"default_set"`
	AnyLost      int      `json:"any_lost"`
}

// qrShowOutput is what 'qr show --json' prints instead of drawing.
type qrShowOutput struct {
	Bundle       string   `json:"bundle"`
	BundleSHA256 string   `json:"bundle_sha256"`
	Fragments    int      `json:"fragments"`
	URFrames     []string `json:"ur_frames"` // the text of each frame, in the order shown
}

// checkpointView is a signed checkpoint of the ceremony log.
type checkpointView struct {
	Note   string `json:"note"`   // the signed note, as written
	Size   int64  `json:"size"`   // entries it covers
	Origin string `json:"origin"` // kesrotate.vault/<vault id>
	Root   string `json:"root"`   // base64 RFC 6962 root
	// QR is the checkpoint's QR code, written with --qr.
	QR string `json:"qr,omitempty"`
	// BundleSize is the size of the checkpoint the bundle carries.
	BundleSize int64 `json:"bundle_size,omitempty"`
}

// ceremonyShowOutput is what 'ceremony show --json' prints.
type ceremonyShowOutput struct {
	VaultID    string          `json:"vault_id"`
	Entries    []EntryView     `json:"entries"`
	Status     string          `json:"status"`   // "ok", or why the log does not verify
	Unlogged   []string        `json:"unlogged"` // what the vault holds that the log does not record
	Checkpoint *checkpointView `json:"checkpoint,omitempty"`
	Unreadable string          `json:"unreadable,omitempty"` // why the entries after the last shown could not be read
}

// ceremonyExportOutput is what 'ceremony export --json' prints.
type ceremonyExportOutput struct {
	Package      string `json:"package"` // the package's folder (--out)
	Entries      int    `json:"entries"`
	Certs        int    `json:"certs"`
	BinarySHA256 string `json:"binary_sha256"`
}

// ceremonySealOutput is what 'ceremony seal --json' prints.
type ceremonySealOutput struct {
	Sealed    int `json:"sealed"`    // entries signed now
	Recovered int `json:"recovered"` // recovered entries recorded now
}

// fleetOutput is what 'fleet rotate --json' prints.
type fleetOutput struct {
	Pools            []fleetPool `json:"pools"`
	Rotated          int         `json:"rotated"`
	Refused          int         `json:"refused"`
	FailedAfterIssue int         `json:"failed_after_issue"`
	UnusedSnapshots  []string    `json:"unused_snapshots"`
}

// fleetPool is one pool of a fleet rotation.
type fleetPool struct {
	Pool         string  `json:"pool"`
	Status       string  `json:"status"` // ceremony.FleetState: "rotated", "refused", "failed-after-issue"
	Producer     string  `json:"producer,omitempty"`
	Snapshot     string  `json:"snapshot,omitempty"`
	Counter      *uint64 `json:"counter,omitempty"`
	KESPeriod    *uint64 `json:"kes_period,omitempty"`
	CertHash     string  `json:"cert_hash,omitempty"`
	Expiry       string  `json:"expiry,omitempty"`
	Bundle       string  `json:"bundle,omitempty"`
	BundleSHA256 string  `json:"bundle_sha256,omitempty"`
	BundleBytes  int     `json:"bundle_bytes,omitempty"`
	Error        string  `json:"error,omitempty"`
	// Warnings are what the operator must act on before installing the
	// bundle (the same counter issued for another producer).
	Warnings []string `json:"warnings"`
}

// rotateOutput is what 'rotate --json' prints, whichever way the rotation
// went: a bundle sealed to producers, plaintext files in --out, a
// preparation for the hardware wallet (prepared), its finish with the
// device's signature (hardware_wallet) or its abandon (abandoned). A key
// of one way only is left out of the others.
type rotateOutput struct {
	Pool         string `json:"pool"`
	PoolID       string `json:"pool_id"`
	PoolIDBech32 string `json:"pool_id_bech32"`
	Counter      uint64 `json:"counter"`
	KESPeriod    uint64 `json:"kes_period"`
	Forced       bool   `json:"forced"`
	// Expiry is when the cert stops being valid, RFC 3339 (not abandoned).
	Expiry      string `json:"expiry,omitempty"`
	CertHash    string `json:"cert_hash,omitempty"`     // issued: bundle, plaintext, finish
	KESVKeyHash string `json:"kes_vkey_hash,omitempty"` // issued
	WrittenTo   string `json:"written_to,omitempty"`    // plaintext: the folder of node.cert, kes.skey, kes.vkey (--out)

	// The producers: bundle, finish, preparation.
	Producer            string   `json:"producer,omitempty"`
	SealedTo            []string `json:"sealed_to,omitempty"`
	ProducerFingerprint string   `json:"producer_fingerprint,omitempty"`
	ProducerPinEntry    int64    `json:"producer_pin_entry,omitempty"`

	// The bundle: bundle, finish.
	Bundle       string          `json:"bundle,omitempty"`
	BundleSHA256 string          `json:"bundle_sha256,omitempty"`
	BundleBytes  int             `json:"bundle_bytes,omitempty"`
	Frames       []string        `json:"frames,omitempty"` // --qr
	Checkpoint   *checkpointView `json:"checkpoint,omitempty"`

	KESOnProducer bool     `json:"kes_on_producer"`
	WithVRF       bool     `json:"with_vrf"`
	VRFFor        []string `json:"vrf_for"`

	// A hardware wallet's rotation.
	HardwareWallet bool                   `json:"hardware_wallet,omitempty"` // finished with the device's signature
	Left           []string               `json:"left,omitempty"`            // finish, abandon: files left in the folder
	Prepared       bool                   `json:"prepared,omitempty"`
	KESVKey        string                 `json:"kes_vkey,omitempty"`
	Folder         string                 `json:"folder,omitempty"` // preparation, abandon
	Files          []string               `json:"files,omitempty"`
	Command        []string               `json:"command,omitempty"`
	SignedCert     string                 `json:"signed_cert,omitempty"`
	Finish         []string               `json:"finish,omitempty"`
	Device         *ceremony.DeviceScreen `json:"device,omitempty"`
	LogEntry       int64                  `json:"log_entry,omitempty"`
	Abandoned      bool                   `json:"abandoned,omitempty"`
	KESDestroyed   *bool                  `json:"kes_destroyed,omitempty"` // finish, abandon: the vault's staged KES key was destroyed
	Cleared        *bool                  `json:"cleared,omitempty"`       // finish: the preparation's files were removed
}

// nonNil is s, or an empty slice for nil: a list prints as [], never null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// JSONOutputs returns the declared --json output of each kesrotate
// command, keyed by command path.
func JSONOutputs() cli.Outputs { return outputs }
