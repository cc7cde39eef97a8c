package airgap

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// tree writes files (path → content) below a fresh folder.
func tree(t *testing.T, files map[string]string) Roots {
	t.Helper()
	root := t.TempDir()
	for p, c := range files {
		full := filepath.Join(root, p)
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return Roots{Sys: filepath.Join(root, "sys"), Proc: filepath.Join(root, "proc")}
}

const routeHeader = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"

var lo = map[string]string{
	"sys/class/net/lo/flags":     "0x9\n",
	"sys/class/net/lo/operstate": "unknown\n",
	"sys/class/net/lo/type":      "772\n",
	"proc/net/route":             routeHeader,
	"proc/net/ipv6_route":        "00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000002 00000000 80200001       lo\n",
}

func with(base map[string]string, extra map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  []string // findings, in order
	}{
		{"loopback only", lo, nil},
		{"ethernet down", with(lo, map[string]string{
			"sys/class/net/eth0/flags": "0x1002\n", "sys/class/net/eth0/operstate": "down\n", "sys/class/net/eth0/type": "1\n",
		}), nil},
		{"ethernet up with default route", with(lo, map[string]string{
			"sys/class/net/eth0/flags": "0x1003\n", "sys/class/net/eth0/operstate": "up\n", "sys/class/net/eth0/type": "1\n",
			"sys/class/net/eth0/carrier": "1\n",
			"proc/net/route": routeHeader +
				"eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n" +
				"eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n",
		}), []string{
			"interface eth0 is up (operstate up, carrier 1)",
			"default ipv4 route via 192.0.2.1 on eth0",
		}},
		{"admin up without cable", with(lo, map[string]string{
			"sys/class/net/enp3s0/flags": "0x1003\n", "sys/class/net/enp3s0/operstate": "down\n", "sys/class/net/enp3s0/carrier": "0\n",
		}), []string{"interface enp3s0 is up (operstate down, carrier 0)"}},
		{"ipv6 default route only", with(lo, map[string]string{
			"proc/net/ipv6_route": lo["proc/net/ipv6_route"] +
				"00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000002 00000000 00000003     eth0\n",
		}), []string{"default ipv6 route via fe80:0:0:0:0:0:0:1 on eth0"}},
		{"rejecting default routes are not routes", with(lo, map[string]string{
			"proc/net/route": routeHeader + "eth0\t00000000\t00000000\t0201\t0\t0\t0\t00000000\t0\t0\t0\n",
			"proc/net/ipv6_route": lo["proc/net/ipv6_route"] +
				"00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n",
		}), nil},
		{"wifi down but present", with(lo, map[string]string{
			"sys/class/net/wlan0/flags": "0x1002\n", "sys/class/net/wlan0/operstate": "down\n", "sys/class/net/wlan0/wireless/": "",
			"sys/class/ieee80211/phy0/":     "",
			"sys/class/rfkill/rfkill0/type": "wlan\n", "sys/class/rfkill/rfkill0/name": "phy0\n",
			"sys/class/rfkill/rfkill0/soft": "1\n", "sys/class/rfkill/rfkill0/hard": "0\n",
		}), []string{"wlan device rfkill0 phy0 (rfkill), soft-blocked", "wlan device phy0 (ieee80211)"}},
		{"wifi up", with(lo, map[string]string{
			"sys/class/net/wlan0/flags": "0x1003\n", "sys/class/net/wlan0/operstate": "dormant\n", "sys/class/net/wlan0/phy80211/": "",
		}), []string{"wireless interface wlan0 is up (operstate dormant)"}},
		{"bluetooth", with(lo, map[string]string{
			"sys/class/bluetooth/hci0/":     "",
			"sys/class/rfkill/rfkill1/type": "bluetooth\n", "sys/class/rfkill/rfkill1/name": "hci0\n",
			"sys/class/rfkill/rfkill1/soft": "1\n", "sys/class/rfkill/rfkill1/hard": "1\n",
		}), []string{"bluetooth device rfkill1 hci0 (rfkill), soft+hard-blocked", "bluetooth device hci0 (bluetooth)"}},
		{"no ipv6, no flags file", map[string]string{
			"sys/class/net/lo/operstate": "unknown\n", "sys/class/net/lo/type": "772\n",
			"sys/class/net/usb0/operstate": "unknown\n",
			"proc/net/route":               routeHeader,
		}, []string{"interface usb0 is up (operstate unknown)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Check(tree(t, tc.files))
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			got := r.Findings()
			if !slices.Equal(got, tc.want) {
				t.Errorf("findings:\ngot  %q\nwant %q", got, tc.want)
			}
			if r.Clean() != (len(tc.want) == 0) {
				t.Errorf("Clean: got %v, want %v", r.Clean(), len(tc.want) == 0)
			}
		})
	}
}

func TestCheckErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		files   map[string]string
		unavail bool
	}{
		{"no sysfs", map[string]string{"proc/net/route": routeHeader}, true},
		{"bad flags", with(lo, map[string]string{"sys/class/net/eth0/flags": "up\n"}), false},
		{"short route line", with(lo, map[string]string{"proc/net/route": routeHeader + "eth0 00000000\n"}), false},
		{"bad gateway", with(lo, map[string]string{"proc/net/route": routeHeader + "eth0\t00000000\tzz\t0003\t0\t0\t0\t00000000\n"}), false},
		{"short ipv6 line", with(lo, map[string]string{"proc/net/ipv6_route": "0000 00\n"}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Check(tree(t, tc.files))
			if err == nil {
				t.Fatal("Check: got no error, want one")
			}
			if got := errors.Is(err, ErrUnavailable); got != tc.unavail {
				t.Errorf("errors.Is(%v, ErrUnavailable): got %v, want %v", err, got, tc.unavail)
			}
		})
	}
}

// TestRealMachine reads this machine's /sys and /proc: whatever it finds,
// the loopback interface is there and is never a finding.
func TestRealMachine(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the air-gap check reads Linux /sys and /proc")
	}
	r, err := Check(DefaultRoots())
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	var sawLo bool
	for _, i := range r.Interfaces {
		if i.Name == "lo" {
			sawLo = true
			if !i.Loopback {
				t.Errorf("lo: got Loopback false, want true")
			}
		}
	}
	if !sawLo {
		t.Errorf("interfaces %v: want lo among them", r.Interfaces)
	}
	for _, f := range r.Findings() {
		if strings.Contains(f, " lo ") {
			t.Errorf("finding %q names the loopback interface", f)
		}
	}
}
