package testnode

// Serving one node-to-client connection: the handshake first, then the
// local state query protocol. Anything the node would tear the connection
// down for (a codec failure, a message in the wrong state, a segment for a
// protocol that is not running, the initiator flag missing) closes it.
// Mini-protocols other than handshake and local state query (chain sync 5,
// tx submission 6, tx monitor 9) are not modelled: a segment for them
// closes the connection where the real node would run them.

import (
	"context"
	"errors"
	"net"
	"os"
	"time"
)

func (n *Node) listenSocket(ctx context.Context) error {
	if fi, err := os.Lstat(n.cfg.SocketPath); err == nil && fi.Mode()&os.ModeSocket != 0 {
		// A stale socket from an earlier run, as cardano-node removes.
		_ = os.Remove(n.cfg.SocketPath)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "unix", n.cfg.SocketPath)
	if err != nil {
		return errors.Join(ErrConfig, err)
	}
	n.sock = ln
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if !n.track(c) {
				_ = c.Close()
				continue
			}
			n.wg.Add(1)
			go func() {
				defer n.wg.Done()
				defer n.untrack(c)
				defer func() { _ = c.Close() }()
				n.serveConn(c)
			}()
		}
	}()
	return nil
}

// maxPending bounds what a client may send without completing a message
// (the node's codecs have per-state byte limits; this is looser).
const maxPending = 1 << 20

func (n *Node) serveConn(c net.Conn) {
	mw := &muxWriter{w: c, start: time.Now()}
	var (
		hsBuf, lsqBuf []byte
		session       *lsqSession
	)
	for {
		seg, err := readSegment(c)
		if err != nil || seg.responder {
			return
		}
		switch seg.proto {
		case protoHandshake:
			if session != nil {
				return // the handshake is over
			}
			hsBuf = append(hsBuf, seg.payload...)
			l, err := itemLen(hsBuf)
			if errors.Is(err, errShort) && len(hsBuf) < maxPending {
				continue
			}
			if err != nil || l != len(hsBuf) {
				return
			}
			res, err := n.ver.handleHandshake(hsBuf, n.cfg.Network.Magic)
			if err != nil {
				return
			}
			if mw.write(protoHandshake, res.reply) != nil || !res.accepted {
				return
			}
			session = &lsqSession{n: n, ntc: res.version}
		case protoStateQuery:
			if session == nil {
				return
			}
			lsqBuf = append(lsqBuf, seg.payload...)
			for len(lsqBuf) > 0 {
				l, err := itemLen(lsqBuf)
				if errors.Is(err, errShort) && len(lsqBuf) < maxPending {
					break
				}
				if err != nil {
					return
				}
				msg := lsqBuf[:l]
				lsqBuf = lsqBuf[l:]
				reply, err := session.handle(msg)
				if err != nil {
					return
				}
				if reply != nil && mw.write(protoStateQuery, reply) != nil {
					return
				}
				if session.state == lsqDoneState && len(lsqBuf) > 0 {
					return
				}
			}
		default:
			return
		}
	}
}

// track records a client connection so that Close can end it. It reports
// false once the node is closing.
func (n *Node) track(c net.Conn) bool {
	n.connMu.Lock()
	defer n.connMu.Unlock()
	select {
	case <-n.closed:
		return false
	default:
	}
	n.conns[c] = struct{}{}
	return true
}

func (n *Node) untrack(c net.Conn) {
	n.connMu.Lock()
	defer n.connMu.Unlock()
	delete(n.conns, c)
}
