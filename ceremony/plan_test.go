package ceremony

import (
	"strings"
	"testing"

	"github.com/kesrotate/kesrotate/opcert"
)

func TestPlanItems(t *testing.T) {
	v := newVault(t)
	p, err := v.NewPool("alpha", t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.NewPool("beta", t0); err != nil {
		t.Fatal(err)
	}
	res, err := p.Issue(IssueRequest{KESPeriod: 1571, OnChain: opcert.None(), Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	res.KES.Wipe()
	items, warnings, err := v.PlanItems()
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 || items[0].Name != "alpha" || items[0].Source != "vault" || items[0].StartPeriod != 1571 ||
		items[0].CertHash != res.Cert.Hash() || items[0].History == nil || items[0].Holdings == nil {
		t.Errorf("got items %+v", items)
	}
	if len(warnings) != 1 || !strings.HasPrefix(warnings[0], "pool beta: no cert was issued") {
		t.Errorf("got warnings %q", warnings)
	}
}
