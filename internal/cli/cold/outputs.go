package cold

import "github.com/kesrotate/kesrotate/internal/cli"

// outputs declares the one type each kesrotate command prints with --json.
// docs/formats.md ("JSON output") documents each of them key by key;
// TestJSONOutputs holds the two together and the scripts check real output
// against them with jsonshape.
var outputs = cli.Outputs{
	"kesrotate init": initOutput{},
}

// initOutput is what 'kesrotate init --json' prints.
type initOutput struct {
	Vault   string `json:"vault"`    // the vault folder
	VaultID string `json:"vault_id"` // the vault's id, in every log entry
	Network string `json:"network"`
	Magic   uint32 `json:"magic"`
}

// JSONOutputs returns the declared --json output of each kesrotate
// command, keyed by command path.
func JSONOutputs() cli.Outputs { return outputs }
