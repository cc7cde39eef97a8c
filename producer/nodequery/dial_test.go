package nodequery

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The agent keeps the socket path absolute; one deeper than sun_path
// holds is still reached, through its folder's descriptor.
func TestDialUnixLongPath(t *testing.T) {
	dir := t.TempDir()
	for len(dir) < 150 {
		dir = filepath.Join(dir, strings.Repeat("d", 40))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "node.socket")
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ln, err := net.Listen("unix", fmt.Sprintf("/proc/self/fd/%d/node.socket", d.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			_, _ = c.Write([]byte("hi"))
			c.Close()
		}
	}()
	c, err := dialUnix(context.Background(), path)
	if err != nil {
		t.Fatalf("dial %d-byte path: %v", len(path), err)
	}
	defer c.Close()
	buf := make([]byte, 2)
	if _, err := c.Read(buf); err != nil || string(buf) != "hi" {
		t.Fatalf("read %q, %v", buf, err)
	}
	// A missing socket names the path the operator gave.
	_, err = dialUnix(context.Background(), filepath.Join(dir, "missing.socket"))
	if err == nil || !strings.Contains(err.Error(), "missing.socket") || strings.Contains(err.Error(), "/proc/self/fd") {
		t.Errorf("missing socket: %v", err)
	}
}
