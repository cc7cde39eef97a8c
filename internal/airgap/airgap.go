// Package airgap inspects the running Linux machine for ways off it: network
// interfaces that are up, default routes, and radios (Wi-Fi, Bluetooth,
// WWAN). It reads /sys and /proc files only; it never opens a socket, never
// imports the net package and never runs another program, so the cold
// binary can link it.
//
// The roots are configurable so that tests can point the check at a fake
// tree; the cold command line sets them from KESROTATE_SYSFS_ROOT and
// KESROTATE_PROCFS_ROOT, which only tests should set.
package airgap

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// ErrUnavailable reports that the machine's network state could not be
// read (no /sys/class/net): the check cannot vouch for the air gap.
var ErrUnavailable = errors.New("cannot inspect the network state")

// Roots are the mount points of sysfs and procfs.
type Roots struct {
	Sys  string // "/sys" on a real machine
	Proc string // "/proc" on a real machine
}

// DefaultRoots are the real machine's.
func DefaultRoots() Roots { return Roots{Sys: "/sys", Proc: "/proc"} }

// Interface is one network interface from /sys/class/net.
type Interface struct {
	Name      string `json:"name"`
	Up        bool   `json:"up"`        // administratively up (IFF_UP)
	Loopback  bool   `json:"loopback"`  // IFF_LOOPBACK or ARPHRD_LOOPBACK
	Wireless  bool   `json:"wireless"`  // has a wireless/ or phy80211 entry
	OperState string `json:"operstate"` // the kernel's operstate: up, down, unknown, …
	Carrier   string `json:"carrier,omitempty"`
}

// Route is a default route from /proc/net/route or /proc/net/ipv6_route.
type Route struct {
	Family    string `json:"family"` // "ipv4" or "ipv6"
	Interface string `json:"interface"`
	Gateway   string `json:"gateway"`
}

// Radio is a radio device: an rfkill switch, an 802.11 phy or a Bluetooth
// controller.
type Radio struct {
	Kind    string `json:"kind"`    // wlan, bluetooth, wwan, … (rfkill type names)
	Name    string `json:"name"`    // rfkill0, phy0, hci0, …
	Source  string `json:"source"`  // the sysfs class it was found in
	Blocked string `json:"blocked"` // "", "soft", "hard" or "soft+hard" (rfkill only)
}

// Report is what Check found.
type Report struct {
	Interfaces    []Interface `json:"interfaces"`
	DefaultRoutes []Route     `json:"default_routes"`
	Radios        []Radio     `json:"radios"`
}

// Clean reports whether nothing breaks the air gap: no non-loopback
// interface is up, there is no default route and no radio is present.
func (r *Report) Clean() bool { return len(r.Findings()) == 0 }

// UpInterfaces lists the non-loopback interfaces that are up.
func (r *Report) UpInterfaces() []Interface {
	var out []Interface
	for _, i := range r.Interfaces {
		if i.Up && !i.Loopback {
			out = append(out, i)
		}
	}
	return out
}

// Findings are one line per thing that breaks the air gap, naming it.
func (r *Report) Findings() []string {
	var out []string
	for _, i := range r.UpInterfaces() {
		kind := "interface"
		if i.Wireless {
			kind = "wireless interface"
		}
		s := fmt.Sprintf("%s %s is up (operstate %s", kind, i.Name, i.OperState)
		if i.Carrier != "" {
			s += ", carrier " + i.Carrier
		}
		out = append(out, s+")")
	}
	for _, rt := range r.DefaultRoutes {
		out = append(out, fmt.Sprintf("default %s route via %s on %s", rt.Family, rt.Gateway, rt.Interface))
	}
	for _, d := range r.Radios {
		s := fmt.Sprintf("%s device %s (%s)", d.Kind, d.Name, d.Source)
		if d.Blocked != "" {
			s += ", " + d.Blocked + "-blocked"
		}
		out = append(out, s)
	}
	return out
}

// Check reads the machine's network state below roots.
func Check(roots Roots) (*Report, error) {
	r := &Report{Interfaces: []Interface{}, DefaultRoutes: []Route{}, Radios: []Radio{}}
	var err error
	if r.Interfaces, err = interfaces(filepath.Join(roots.Sys, "class", "net")); err != nil {
		return nil, err
	}
	v4, err := routes4(filepath.Join(roots.Proc, "net", "route"))
	if err != nil {
		return nil, err
	}
	v6, err := routes6(filepath.Join(roots.Proc, "net", "ipv6_route"))
	if err != nil {
		return nil, err
	}
	r.DefaultRoutes = append(append(r.DefaultRoutes, v4...), v6...)
	if r.Radios, err = radios(roots.Sys); err != nil {
		return nil, err
	}
	return r, nil
}

// Interface flags from <linux/if.h> and the loopback hardware type from
// <linux/if_arp.h>.
const (
	iffUp           = 0x1
	iffLoopback     = 0x8
	arphrdLoopback  = 772
	maxSysfsFile    = 4096
	maxProcNetLines = 1 << 16
)

func readSmall(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSysfsFile))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

func interfaces(dir string) ([]Interface, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	out := []Interface{}
	for _, e := range entries {
		name := e.Name()
		p := filepath.Join(dir, name)
		i := Interface{Name: name}
		if s, err := readSmall(filepath.Join(p, "flags")); err == nil {
			flags, perr := strconv.ParseUint(strings.TrimPrefix(s, "0x"), 16, 32)
			if perr != nil {
				return nil, fmt.Errorf("%s/flags: %q is not a hex number", name, s)
			}
			i.Up = flags&iffUp != 0
			i.Loopback = flags&iffLoopback != 0
		} else if errors.Is(err, fs.ErrNotExist) {
			// No flags file: judge by operstate alone.
			i.Up = true
		} else {
			return nil, fmt.Errorf("reading %s/flags: %w", name, err)
		}
		if s, err := readSmall(filepath.Join(p, "type")); err == nil && s == strconv.Itoa(arphrdLoopback) {
			i.Loopback = true
		}
		if s, err := readSmall(filepath.Join(p, "operstate")); err == nil {
			i.OperState = s
		} else {
			i.OperState = "unknown"
		}
		if i.OperState == "up" {
			i.Up = true
		}
		if i.Up {
			// carrier is unreadable (EINVAL) while the interface is down.
			if s, err := readSmall(filepath.Join(p, "carrier")); err == nil {
				i.Carrier = s
			}
		}
		for _, w := range []string{"wireless", "phy80211"} {
			if _, err := os.Stat(filepath.Join(p, w)); err == nil {
				i.Wireless = true
			}
		}
		out = append(out, i)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out, nil
}

// lines returns the lines of a /proc/net table without its header (if
// header is set); a missing file (no IPv6, no IPv4) is no lines.
func lines(path string, header bool) ([][]string, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out [][]string
	sc := bufio.NewScanner(f)
	first := true
	for sc.Scan() {
		if first && header {
			first = false
			continue
		}
		if len(out) >= maxProcNetLines {
			return nil, fmt.Errorf("%s: more than %d lines", path, maxProcNetLines)
		}
		if fields := strings.Fields(sc.Text()); len(fields) > 0 {
			out = append(out, fields)
		}
	}
	return out, sc.Err()
}

// routes4 reads /proc/net/route: Iface Destination Gateway Flags RefCnt
// Use Metric Mask …, addresses in hex as stored in memory (little-endian
// on the machines we run on).
func routes4(path string) ([]Route, error) {
	rows, err := lines(path, true)
	if err != nil {
		return nil, err
	}
	var out []Route
	for _, f := range rows {
		if len(f) < 8 {
			return nil, fmt.Errorf("%s: short line %q", path, strings.Join(f, " "))
		}
		if f[1] != "00000000" || f[7] != "00000000" {
			continue
		}
		flags, err := strconv.ParseUint(f[3], 16, 32)
		if err != nil {
			return nil, fmt.Errorf("%s: flags %q", path, f[3])
		}
		const rtfUp, rtfReject = 0x1, 0x200
		if flags&rtfUp == 0 || flags&rtfReject != 0 {
			continue
		}
		gw, err := hex.DecodeString(f[2])
		if err != nil || len(gw) != 4 {
			return nil, fmt.Errorf("%s: gateway %q", path, f[2])
		}
		out = append(out, Route{Family: "ipv4", Interface: f[0], Gateway: fmt.Sprintf("%d.%d.%d.%d", gw[3], gw[2], gw[1], gw[0])})
	}
	return out, nil
}

// routes6 reads /proc/net/ipv6_route: dest destlen src srclen nexthop
// metric refcnt use flags iface, addresses as 32 hex digits.
func routes6(path string) ([]Route, error) {
	rows, err := lines(path, false)
	if err != nil {
		return nil, err
	}
	var out []Route
	zero := strings.Repeat("0", 32)
	for _, f := range rows {
		if len(f) < 10 {
			return nil, fmt.Errorf("%s: short line %q", path, strings.Join(f, " "))
		}
		if f[0] != zero || f[1] != "00" || f[9] == "lo" {
			continue
		}
		flags, err := strconv.ParseUint(f[8], 16, 32)
		if err != nil {
			return nil, fmt.Errorf("%s: flags %q", path, f[8])
		}
		const rtfUp, rtfReject = 0x1, 0x200
		if flags&rtfUp == 0 || flags&rtfReject != 0 {
			continue
		}
		out = append(out, Route{Family: "ipv6", Interface: f[9], Gateway: ipv6(f[4])})
	}
	return out, nil
}

// ipv6 writes 32 hex digits as eight colon-separated groups, leading
// zeros dropped (no :: compression: good enough to name a gateway).
func ipv6(h string) string {
	if len(h) != 32 {
		return h
	}
	var parts []string
	for i := 0; i < 32; i += 4 {
		g := strings.TrimLeft(h[i:i+4], "0")
		if g == "" {
			g = "0"
		}
		parts = append(parts, g)
	}
	return strings.Join(parts, ":")
}

func radios(sys string) ([]Radio, error) {
	out := []Radio{}
	list := func(class string) ([]string, error) {
		entries, err := os.ReadDir(filepath.Join(sys, "class", class))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		sort.Strings(names)
		return names, nil
	}
	rf, err := list("rfkill")
	if err != nil {
		return nil, err
	}
	for _, n := range rf {
		p := filepath.Join(sys, "class", "rfkill", n)
		kind, _ := readSmall(filepath.Join(p, "type"))
		if kind == "" {
			kind = "radio"
		}
		name := n
		if s, _ := readSmall(filepath.Join(p, "name")); s != "" {
			name = n + " " + s
		}
		soft, _ := readSmall(filepath.Join(p, "soft"))
		hard, _ := readSmall(filepath.Join(p, "hard"))
		var blocked []string
		if soft == "1" {
			blocked = append(blocked, "soft")
		}
		if hard == "1" {
			blocked = append(blocked, "hard")
		}
		out = append(out, Radio{Kind: kind, Name: name, Source: "rfkill", Blocked: strings.Join(blocked, "+")})
	}
	for _, c := range []struct{ class, kind string }{{"ieee80211", "wlan"}, {"bluetooth", "bluetooth"}} {
		names, err := list(c.class)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			out = append(out, Radio{Kind: c.kind, Name: n, Source: c.class})
		}
	}
	return out, nil
}
