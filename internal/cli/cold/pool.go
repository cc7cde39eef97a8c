package cold

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kesrotate/kesrotate/ceremony"
	"github.com/kesrotate/kesrotate/internal/cli"
	"github.com/kesrotate/kesrotate/keys"
)

func newPoolCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "pool",
		Short: "Create, import, list and show the pools in the vault",
		Args:  cli.Args(cobra.NoArgs),
	}
	c.AddCommand(newPoolNewCmd(g), newPoolImportCmd(g), newPoolImportHWCmd(g), newPoolShowCmd(g), newPoolListCmd(g), newPoolExportCmd(g))
	return c
}

func newPoolNewCmd(g *globals) *cobra.Command {
	var hwsfile string
	c := &cobra.Command{
		Use:   "new NAME [--hw-signing-file FILE]",
		Short: "Create a pool with fresh cold keys, counter and VRF keys",
		Long: `Create a pool with a fresh cold key, counter and VRF key in the vault.

For a cold key on a hardware wallet (a Ledger: Nano S Plus, Nano X, Stax,
Flex), make the key on the device first, on this machine:

  ` + keyGenCommand + `

then give its signing file: 'kesrotate pool new NAME --hw-signing-file
cold.hwsfile'. The vault makes the VRF key and keeps the signing file; the
cold key never leaves the device. Its cold.vkey is the one
'kesrotate pool export-public' writes.`,
		Args: cli.Args(cobra.ExactArgs(1)),
		RunE: func(c *cobra.Command, args []string) error {
			v, err := g.openVault()
			if err != nil {
				return err
			}
			now, err := g.env.Now()
			if err != nil {
				return err
			}
			var p *ceremony.Pool
			if hwsfile != "" {
				sf, err := readInput(hwsfile, "--hw-signing-file")
				if err != nil {
					return err
				}
				p, err = v.NewHWPool(args[0], sf, now)
				if err != nil {
					return poolAddError(err)
				}
			} else if p, err = v.NewPool(args[0], now); err != nil {
				return poolAddError(err)
			}
			return printPoolSummary(g, p, "created")
		},
	}
	c.Flags().StringVar(&hwsfile, "hw-signing-file", "", "the cold key is on a hardware wallet: cardano-hw-cli's signing file of it (node key-gen)")
	return c
}

type importOptions struct{ coldSkey, counter, vrfSkey string }

func newPoolImportCmd(g *globals) *cobra.Command {
	o := &importOptions{}
	c := &cobra.Command{
		Use:   "import NAME --cold-skey FILE --counter FILE [--vrf-skey FILE]",
		Short: "Import a pool from cardano-cli files",
		Args:  cli.Args(cobra.ExactArgs(1)),
		RunE: func(c *cobra.Command, args []string) error {
			v, err := g.openVault()
			if err != nil {
				return err
			}
			now, err := g.env.Now()
			if err != nil {
				return err
			}
			var io ceremony.ImportOptions
			if io.ColdSkey, err = readInput(o.coldSkey, "--cold-skey"); err != nil {
				return err
			}
			if io.Counter, err = readInput(o.counter, "--counter"); err != nil {
				return err
			}
			if o.vrfSkey != "" {
				if io.VRFSkey, err = readInput(o.vrfSkey, "--vrf-skey"); err != nil {
					return err
				}
			}
			p, err := v.ImportPool(args[0], io, now)
			if err != nil {
				return poolAddError(err)
			}
			return printPoolSummary(g, p, "imported")
		},
	}
	c.Flags().StringVar(&o.coldSkey, "cold-skey", "", "cardano-cli cold signing key (StakePoolSigningKey_ed25519)")
	c.Flags().StringVar(&o.counter, "counter", "", "cardano-cli op-cert issue counter of that cold key")
	c.Flags().StringVar(&o.vrfSkey, "vrf-skey", "", "cardano-cli VRF signing key (optional)")
	_ = c.MarkFlagRequired("cold-skey")
	_ = c.MarkFlagRequired("counter")
	return c
}

func readInput(path, flag string) ([]byte, error) { return cli.ReadInput(path, flag) }

// poolAddError gives the hints of a failed pool new, import, import-hw or
// backup restore. Only a *ceremony.PoolNotLoggedError leaves a pool in
// the vault; every other error of those added nothing.
func poolAddError(err error) error {
	var pe *ceremony.PoolNotLoggedError
	if errors.As(err, &pe) {
		return cli.Hint(err, fmt.Sprintf("pool %s is in the vault, with its keys; the next command that opens the log records it, flagged recovered ('kesrotate ceremony seal' does it now); do not add it again", pe.Pool))
	}
	if h := vaultHint(err); h != err {
		return h
	}
	if h := secretError(err); h != err {
		return h
	}
	if h := hwError(err); h != err {
		return h
	}
	switch {
	case errors.Is(err, ceremony.ErrName):
		return cli.Usage(err, "pick a name such as 'mypool' or 'pool-1'")
	case errors.Is(err, ceremony.ErrPoolExists):
		return cli.Hint(err, "'kesrotate pool list' shows what the vault holds; pools are never overwritten")
	case errors.Is(err, keys.ErrCounterMismatch):
		return cli.Hint(err, "give the counter file that was made with this cold key ('node.counter' beside it)")
	case errors.Is(err, keys.ErrType), errors.Is(err, keys.ErrSize), errors.Is(err, keys.ErrEnvelope), errors.Is(err, keys.ErrEncoding), errors.Is(err, keys.ErrInconsistent):
		return cli.Hint(err, "give the cardano-cli files: cold.skey (StakePoolSigningKey_ed25519), cold.counter, vrf.skey")
	}
	return cli.Hint(err, "nothing was added to the vault")
}

func printPoolSummary(g *globals, p *ceremony.Pool, verb string) error {
	id, err := p.PoolID()
	if err != nil {
		return err
	}
	if g.env.JSON {
		out := poolSummary{Name: p.Meta.Name, PoolID: id.Hex(), PoolIDBech32: id.Bech32(), Origin: p.Meta.Origin}
		if p.Hardware() {
			out.HWPath = p.Meta.HWPath
		}
		return g.env.PrintJSON(out)
	}
	fmt.Fprintf(g.env.Stdout, "pool %s %s\n  pool id  %s\n           %s\n", p.Meta.Name, verb, id.Bech32(), id.Hex())
	if p.Hardware() {
		fmt.Fprintf(g.env.Stdout, "  cold key on a hardware wallet at %s; the vault holds its public key only\n", p.Meta.HWPath)
	}
	return nil
}

// PoolView is what 'pool show --json' prints.
type PoolView struct {
	Name         string      `json:"name"`
	PoolID       string      `json:"pool_id"`
	PoolIDBech32 string      `json:"pool_id_bech32"`
	ColdVKey     string      `json:"cold_vkey"`
	VRFVKey      string      `json:"vrf_vkey,omitempty"`
	VRFKeyHash   string      `json:"vrf_key_hash,omitempty"`
	Origin       string      `json:"origin"`
	Counter      CounterView `json:"counter"`
	Certs        []CertView  `json:"certs"`
	// Producers: the newest cert each producer received.
	Producers []ceremony.ProducerCert `json:"producers"`
	// HWPath: the cold key is on a hardware wallet, at this path.
	HWPath string `json:"hw_path,omitempty"`
	// Prepared is a rotation prepared for the hardware wallet and not
	// finished or abandoned.
	Prepared *PreparedView `json:"prepared,omitempty"`
}

// PreparedView is a rotation waiting for the hardware wallet's signature.
type PreparedView struct {
	Counter    uint64                `json:"counter"`
	KESPeriod  uint64                `json:"kes_period"`
	Producers  []string              `json:"producers"`
	Created    time.Time             `json:"created"`
	Folder     string                `json:"folder"`
	Command    []string              `json:"command"`
	SignedCert string                `json:"signed_cert"`
	Device     ceremony.DeviceScreen `json:"device"`
}

// CounterView is the counter state of a pool.
type CounterView struct {
	Next        uint64  `json:"next"`                   // the cardano-cli counter file's next number
	LastIssued  *uint64 `json:"last_issued,omitempty"`  // the last cert number issued (journal)
	OnChainSeen string  `json:"onchain_seen,omitempty"` // the highest on-chain counter observed
}

// CertView is one issued cert.
type CertView struct {
	Counter   uint64    `json:"counter"`
	KESPeriod uint64    `json:"kes_period"`
	CertHash  string    `json:"cert_hash"`
	Time      time.Time `json:"time"`
	OnChain   string    `json:"onchain"`
	Forced    bool      `json:"forced,omitempty"`
	Producer  string    `json:"producer,omitempty"`
	SealedTo  []string  `json:"sealed_to,omitempty"`
	Expiry    time.Time `json:"expiry"`
}

// poolView is the pool's state (ceremony.(*Pool).State) as --json prints it.
func poolView(p *ceremony.Pool) (*PoolView, error) {
	st, err := p.State()
	if err != nil {
		return nil, err
	}
	m := st.Meta
	pv := &PoolView{Name: m.Name, PoolID: st.PoolID.Hex(), PoolIDBech32: st.PoolID.Bech32(), ColdVKey: m.ColdVKey,
		VRFVKey: m.VRFVKey, Origin: m.Origin, Counter: CounterView{Next: st.CounterNext}, Certs: []CertView{},
		Producers: st.Producers, HWPath: m.HWPath}
	if st.VRFKeyHash != nil {
		pv.VRFKeyHash = hex.EncodeToString(st.VRFKeyHash[:])
	}
	if st.History.Issued {
		last := st.History.LastIssued
		pv.Counter.LastIssued = &last
	}
	if st.History.Seen.Known {
		pv.Counter.OnChainSeen = st.History.Seen.Text()
	}
	if pr := st.Prepared; pr != nil {
		pv.Prepared = &PreparedView{Counter: pr.Counter, KESPeriod: pr.KESPeriod, Producers: pr.Producers, Created: pr.Created,
			Folder: pr.Folder, Command: pr.Command(), SignedCert: pr.SignedCertPath(), Device: st.Device}
	}
	for _, c := range st.Certs {
		pv.Certs = append(pv.Certs, CertView{Counter: c.Counter, KESPeriod: c.KESPeriod, CertHash: c.CertHash, Time: c.Time,
			OnChain: c.OnChain, Forced: c.Forced, Producer: c.Producer, SealedTo: c.HeldBy(), Expiry: c.Expiry})
	}
	return pv, nil
}

func newPoolShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show NAME",
		Short: "Show a pool: ids, counter state, VRF key hash, certs issued",
		Args:  cli.Args(cobra.ExactArgs(1)),
		RunE: func(c *cobra.Command, args []string) error {
			v, err := g.openVault()
			if err != nil {
				return err
			}
			p, err := g.openPool(v, args[0])
			if err != nil {
				return err
			}
			pv, err := poolView(p)
			if err != nil {
				return err
			}
			if g.env.JSON {
				return g.env.PrintJSON(pv)
			}
			w := g.env.Stdout
			fmt.Fprintf(w, "pool %s (%s)\n", pv.Name, pv.Origin)
			fmt.Fprintf(w, "  pool id       %s\n                %s\n", pv.PoolIDBech32, pv.PoolID)
			if pv.HWPath != "" {
				fmt.Fprintf(w, "  cold key      on a hardware wallet at %s (the vault holds its public key only)\n", pv.HWPath)
			}
			if pv.VRFKeyHash != "" {
				fmt.Fprintf(w, "  VRF key hash  %s\n", pv.VRFKeyHash)
			} else {
				fmt.Fprintf(w, "  VRF key       not in the vault\n")
			}
			fmt.Fprintf(w, "  counter file  next %d\n", pv.Counter.Next)
			if pv.Counter.LastIssued != nil {
				fmt.Fprintf(w, "  last issued   %d\n", *pv.Counter.LastIssued)
			}
			if pv.Counter.OnChainSeen != "" {
				fmt.Fprintf(w, "  chain seen    %s\n", pv.Counter.OnChainSeen)
			}
			fmt.Fprintf(w, "  certs issued  %d\n", len(pv.Certs))
			for _, c := range pv.Certs {
				forced := ""
				if c.Forced {
					forced = "  FORCED"
				}
				to := ""
				if len(c.SealedTo) > 0 {
					to = "  to " + strings.Join(c.SealedTo, ", ")
				}
				fmt.Fprintf(w, "    #%d  KES period %d  expires %s  on-chain was %s  %s%s%s\n", c.Counter, c.KESPeriod,
					c.Expiry.Format(time.RFC3339), c.OnChain, c.CertHash[:16], forced, to)
			}
			if len(pv.Producers) > 0 {
				fmt.Fprintf(w, "  producers     (the newest cert each one received)\n")
				for _, h := range pv.Producers {
					fmt.Fprintf(w, "    %-12s #%d  KES period %d  %s\n", h.Producer, h.Counter, h.KESPeriod, h.CertHash[:16])
				}
			}
			if pr := pv.Prepared; pr != nil {
				fmt.Fprintf(w, "  prepared      #%d  KES period %d  for %s  since %s: waiting for the hardware wallet's signature\n",
					pr.Counter, pr.KESPeriod, strings.Join(pr.Producers, ", "), pr.Created.Format(time.RFC3339))
				fmt.Fprintf(w, "  folder        %s\n", pr.Folder)
				fmt.Fprintf(w, "\nsign it on the device (Cardano app open):\n%s\n\n", shellLine(pr.Command, "  "))
				printDeviceScreen(w, pr.Device)
				fmt.Fprintf(w, "\nthen: kesrotate rotate %s --signed-cert %s\n", pv.Name, pr.SignedCert)
				fmt.Fprintf(w, "or:   kesrotate rotate %s --abandon\n", pv.Name)
			}
			return nil
		},
	}
}

func newPoolListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the pools in the vault",
		Args:  cli.Args(cobra.NoArgs),
		RunE: func(c *cobra.Command, args []string) error {
			v, err := g.openVault()
			if err != nil {
				return err
			}
			pools, err := v.Pools()
			if err != nil {
				return err
			}
			views := []PoolView{}
			for _, p := range pools {
				pv, err := poolView(p)
				if err != nil {
					return fmt.Errorf("pool %s: %w", p.Meta.Name, err)
				}
				views = append(views, *pv)
			}
			if g.env.JSON {
				return g.env.PrintJSON(views)
			}
			if len(views) == 0 {
				g.env.Info("no pools yet: 'kesrotate pool new NAME' or 'kesrotate pool import NAME …'")
			}
			for _, pv := range views {
				note := ""
				if pv.HWPath != "" {
					note = "  hardware wallet"
				}
				if pv.Prepared != nil {
					note += fmt.Sprintf("  #%d prepared", pv.Prepared.Counter)
				}
				fmt.Fprintf(g.env.Stdout, "%-16s %s  next counter %d  certs %d%s\n", pv.Name, pv.PoolIDBech32, pv.Counter.Next, len(pv.Certs), note)
			}
			return nil
		},
	}
}

func newPoolExportCmd(g *globals) *cobra.Command {
	var out string
	c := &cobra.Command{
		Use:   "export-public NAME --out DIR",
		Short: "Write cold.vkey and vrf.vkey (cardano-cli format) for the producer",
		Args:  cli.Args(cobra.ExactArgs(1)),
		RunE: func(c *cobra.Command, args []string) error {
			v, err := g.openVault()
			if err != nil {
				return err
			}
			p, err := g.openPool(v, args[0])
			if err != nil {
				return err
			}
			files, err := p.ExportPublic(out)
			if errors.Is(err, os.ErrExist) {
				return cli.Hint(err, "a different file of that name is already there; export into an empty folder")
			}
			if err != nil {
				return err
			}
			if g.env.JSON {
				return g.env.PrintJSON(filesOutput{Files: nonNil(files)})
			}
			for _, f := range files {
				fmt.Fprintln(g.env.Stdout, f)
			}
			return nil
		},
	}
	c.Flags().StringVar(&out, "out", "", "folder to write the public files into")
	_ = c.MarkFlagRequired("out")
	return c
}
