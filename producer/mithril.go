package producer

import (
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
)

// unitRe is what a systemd unit name may hold (systemd.unit(5): ASCII
// letters, digits, ":", "-", "_", ".", "\" and one "@").
var unitRe = regexp.MustCompile(`^[A-Za-z0-9:_.\\@-]+$`)

// validateMithril checks the Mithril signer's settings: a systemd unit
// name, an http(s) metrics URL, an absolute environment file.
func validateMithril(c *Config) error {
	if c.MithrilSigner == "" {
		if c.MithrilMetrics != "" || c.MithrilEnvFile != "" {
			return fmt.Errorf("%w: --mithril-metrics and --mithril-env-file need --mithril-signer UNIT", ErrConfig)
		}
		return nil
	}
	if !unitRe.MatchString(c.MithrilSigner) || c.MithrilSigner[0] == '-' {
		return fmt.Errorf("%w: --mithril-signer %q is not a systemd unit name", ErrConfig, c.MithrilSigner)
	}
	if c.MithrilMetrics != "" {
		u, err := url.Parse(c.MithrilMetrics)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%w: --mithril-metrics %q is not an http URL (the signer serves http://IP:9090/metrics with ENABLE_METRICS_SERVER=true)", ErrConfig, c.MithrilMetrics)
		}
	}
	if c.MithrilEnvFile != "" {
		abs, err := filepath.Abs(c.MithrilEnvFile)
		if err != nil {
			return err
		}
		c.MithrilEnvFile = abs
	}
	return nil
}
