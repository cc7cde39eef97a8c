package ceremony

import (
	"fmt"
	"strings"

	"github.com/kesrotate/kesrotate/auditlog"
)

// The auditor package's files besides the log's own.
const (
	ExportReadme = "README.md"
	ExportBinary = "binary.txt"
	ExportPools  = "pools"
)

// ExportResult says what ExportAudit wrote and what it found.
type ExportResult struct {
	Entries      int
	Certs        int
	BinarySHA256 string
	// VerifyErr: the log does not verify; it was exported as it is, for
	// the auditor to see.
	VerifyErr error
	// Gaps are what the vault holds that the log does not record.
	Gaps []LogGap
}

// ExportAudit writes the auditor package into out (which must not exist):
// the log and its checkpoints, the audit key, each pool's cold vkey, the
// hash and version of this binary, a README on how to verify it, and
// SHA256SUMS over all of it. version is the binary's version string.
func (v *Vault) ExportAudit(out, version string) (*ExportResult, error) {
	sum, err := BinarySHA256()
	if err != nil {
		return nil, err
	}
	pools, err := v.Pools()
	if err != nil {
		return nil, err
	}
	extra := map[string][]byte{
		ExportBinary: []byte(fmt.Sprintf("sha256 %s\nversion %s\n", sum, version)),
	}
	var poolLines []string
	for _, p := range pools {
		vk, err := p.ColdVKey()
		if err != nil {
			return nil, err
		}
		extra[ExportPools+"/"+p.Meta.Name+".cold.vkey"] = vk.MarshalEnvelope()
		poolLines = append(poolLines, fmt.Sprintf("- %s: pool id %s (%s), cold vkey in pools/%s.cold.vkey",
			p.Meta.Name, p.Meta.PoolID, vk.PoolID().Bech32(), p.Meta.Name))
	}
	entries, err := auditlog.Entries(v.LogDir())
	if err != nil {
		return nil, err
	}
	extra[ExportReadme] = []byte(exportReadmeText(v, len(entries), poolLines, sum, version))
	res := &ExportResult{Entries: len(entries), BinarySHA256: sum}
	r, verr := auditlog.Verify(v.LogDir(), auditlog.VerifyOptions{VaultID: v.Meta.ID})
	if r != nil {
		res.Certs = len(r.Certs)
	}
	if verr != nil {
		res.VerifyErr = verr
	}
	if err := auditlog.Export(v.LogDir(), out, extra); err != nil {
		return nil, err
	}
	if gaps, err := v.LogGaps(entries); err == nil {
		res.Gaps = gaps
	}
	return res, nil
}

func exportReadmeText(v *Vault, n int, pools []string, sum, version string) string {
	return fmt.Sprintf(`# kesrotate ceremony log — auditor package

Vault %s on %s, %d log entries, exported by kesrotate %s
(binary SHA-256 %s).

## What is here

- entries.jsonl — one JSON entry per ceremony action, oldest first.
- checkpoint, checkpoints/N.note — the signed tree heads (C2SP signed notes,
  RFC 6962 Merkle tree over the entry lines) after each entry.
- audit.pub — the vault's audit verifier key (note key text).
- pools/NAME.cold.vkey — the pools' cold verification keys, for convenience:
  take the cold vkey you trust from the pool's registration, not from here.
- binary.txt — SHA-256 and version of the binary that exported this package.
- SHA256SUMS — SHA-256 of every other file.

Pools:
%s

## How to verify

On any machine, with the kesrotate binary of a release you trust:

    kesrotate ceremony verify --log THIS-FOLDER --cold-vkey COLD.vkey \
        [--checkpoints FOLDER-FROM-THE-PRODUCER] [--cert NODE.cert]

It checks every file against SHA256SUMS, every entry against the signed
checkpoints, the consistency of all checkpoints (including those the
producer kept), the binding of the audit key by each pool's cold key, and
the ceremony rules (counters, KES periods, bundles carry issued certs). It
lists every cert issued and exits non-zero naming the first bad entry.

Compare each entry's binary_sha256 with the published release hashes.
See docs/auditor-guide.md in the kesrotate sources for what a pass means.
`, v.Meta.ID, v.Network.Name, n, version, sum, strings.Join(pools, "\n"))
}
