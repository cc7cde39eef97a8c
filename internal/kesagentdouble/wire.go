package kesagentdouble

// The double's own protocols on its two unix sockets: one JSON object a
// line. kes-agent speaks versioned binary protocols there
// (kes-agent/protocol.html); nothing but these doubles and the test node
// talks to the double's sockets, so they need not be those.
//
// Control socket: the client sends one request and reads one response:
//
//	{"op":"gen-staged-key"}                         → {"vkey":"<hex>"} (or {"error":"…"})
//	{"op":"export-staged-vkey"}                     → {"vkey":"<hex>"} or {} when none
//	{"op":"drop-staged-key"}                        → {}
//	{"op":"install-key","ocert":{…}}                → {"result":N}
//	{"op":"drop-key"}                               → {"result":N}
//	{"op":"info"}                                   → {"info":{…}}
//
// Service socket: the agent writes a push line when a client connects (if
// it holds a bundle) and after every change:
//
//	{"at":"<RFC 3339>","deleted":false,"key":"<608 bytes hex>","evolution":E,
//	 "ocert":{"vk":"<hex>","n":N,"kes_period":P,"sigma":"<hex>"}}
//	{"at":"<RFC 3339>","deleted":true}

import (
	"encoding/hex"
	"errors"
	"time"
)

// WireOCert is an OCert on the wire.
type WireOCert struct {
	VK        string `json:"vk"`
	N         uint64 `json:"n"`
	KESPeriod uint64 `json:"kes_period"`
	Sigma     string `json:"sigma"`
}

func wireOCert(oc OCert) WireOCert {
	return WireOCert{VK: hex.EncodeToString(oc.VKHot[:]), N: oc.N, KESPeriod: oc.KESPeriod, Sigma: hex.EncodeToString(oc.Sigma[:])}
}

func (w WireOCert) ocert() (OCert, error) {
	var oc OCert
	vk, err := hex.DecodeString(w.VK)
	if err != nil || len(vk) != 32 {
		return oc, errors.New("bad vk")
	}
	sig, err := hex.DecodeString(w.Sigma)
	if err != nil || len(sig) != 64 {
		return oc, errors.New("bad sigma")
	}
	copy(oc.VKHot[:], vk)
	copy(oc.Sigma[:], sig)
	oc.N, oc.KESPeriod = w.N, w.KESPeriod
	return oc, nil
}

type request struct {
	Op    string     `json:"op"`
	OCert *WireOCert `json:"ocert,omitempty"`
}

type response struct {
	VKey   string    `json:"vkey,omitempty"`
	Result *int      `json:"result,omitempty"`
	Info   *wireInfo `json:"info,omitempty"`
	Error  string    `json:"error,omitempty"`
}

type wireInfo struct {
	Now         time.Time   `json:"now"`
	Period      uint64      `json:"period"`
	PeriodStart time.Time   `json:"period_start"`
	PeriodEnd   time.Time   `json:"period_end"`
	Bundle      *wireBundle `json:"bundle,omitempty"`
	StagedVKey  string      `json:"staged_vkey,omitempty"`
	Bootstrap   []string    `json:"bootstrap,omitempty"`
}

type wireBundle struct {
	Timestamp time.Time `json:"timestamp"`
	Deleted   bool      `json:"deleted"`
	VK        string    `json:"vk,omitempty"`
	Start     uint64    `json:"start"`
	Evolution uint64    `json:"evolution"`
	N         uint64    `json:"n"`
	Sigma     string    `json:"sigma,omitempty"`
}

func toWireInfo(in Info) *wireInfo {
	w := &wireInfo{Now: in.Now, Period: in.Period, PeriodStart: in.PeriodStart, PeriodEnd: in.PeriodEnd, Bootstrap: in.BootstrapOff}
	if b := in.Bundle; b != nil {
		w.Bundle = &wireBundle{Timestamp: b.Timestamp, Deleted: b.Deleted}
		if !b.Deleted {
			w.Bundle.VK, w.Bundle.Sigma = hex.EncodeToString(b.VKey[:]), hex.EncodeToString(b.Sigma[:])
			w.Bundle.Start, w.Bundle.Evolution, w.Bundle.N = b.Start, b.Evolution, b.N
		}
	}
	if in.StagedVKey != nil {
		w.StagedVKey = hex.EncodeToString(in.StagedVKey[:])
	}
	return w
}

// WirePush is a Push on the service socket.
type WirePush struct {
	At        time.Time  `json:"at"`
	Deleted   bool       `json:"deleted"`
	Key       string     `json:"key,omitempty"`
	Evolution uint64     `json:"evolution,omitempty"`
	OCert     *WireOCert `json:"ocert,omitempty"`
}

func toWirePush(p Push) WirePush {
	w := WirePush{At: p.At, Deleted: p.Deleted}
	if !p.Deleted {
		oc := wireOCert(p.OCert)
		w.Key, w.Evolution, w.OCert = hex.EncodeToString(p.Key), p.Evolution, &oc
	}
	return w
}
