package backup_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/kesrotate/kesrotate/backup"
	"github.com/kesrotate/kesrotate/ceremony"
)

// A pool's cold key as three SLIP-39 shares, any two of which rebuild the
// pool in another vault.
func ExampleSplit() {
	dir, err := os.MkdirTemp("", "backup-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	now := time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)

	v, err := ceremony.Init(filepath.Join(dir, "vault"), ceremony.InitOptions{Network: "mainnet", Now: now})
	if err != nil {
		log.Fatal(err)
	}
	p, err := v.NewPool("alpha", now)
	if err != nil {
		log.Fatal(err)
	}
	set, err := backup.Split(p, 2, 3, nil)
	if err != nil {
		log.Fatal(err)
	}
	files, err := set.WriteShares(filepath.Join(dir, "shares"), now) // .txt and .png per share, logged
	if err != nil {
		log.Fatal(err)
	}

	// Later, on a new stick: two of the share files.
	opts := backup.RestoreOptions{}
	for _, f := range []string{files[0], files[4]} {
		b, err := os.ReadFile(f)
		if err != nil {
			log.Fatal(err)
		}
		m, poolID, err := backup.ParseShareFile(b)
		if err != nil {
			log.Fatal(err)
		}
		opts.Shares, opts.PoolID = append(opts.Shares, m), poolID
	}
	w, err := ceremony.Init(filepath.Join(dir, "new-vault"), ceremony.InitOptions{Network: "mainnet", Now: now})
	if err != nil {
		log.Fatal(err)
	}
	q, err := backup.RestorePool(w, "alpha", opts, now)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(set.Shares), "shares, any", set.Threshold, "rebuild it")
	fmt.Println("same pool:", q.Meta.PoolID == p.Meta.PoolID)
	// Output:
	// 3 shares, any 2 rebuild it
	// same pool: true
}
