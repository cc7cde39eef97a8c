package kesagentdouble

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"os"
	"sync"
	"time"
)

// Server runs an Agent on its control and service sockets.
type Server struct {
	Agent     *Agent
	Bootstrap []string // configured bootstrap peers (never connected)

	lns  []net.Listener
	wg   sync.WaitGroup
	done chan struct{}
	once sync.Once
}

// Listen opens the sockets (control may be "": no control socket, as
// kes-agent's --control-address "" disables it) and serves until Close. A
// socket file nobody listens on any more (an agent that was killed) is
// replaced; one in use is an error.
func Listen(a *Agent, servicePath, controlPath string) (*Server, error) {
	s := &Server{Agent: a, done: make(chan struct{})}
	for _, p := range []struct {
		path  string
		serve func(net.Conn)
	}{{servicePath, s.serveService}, {controlPath, s.serveControl}} {
		if p.path == "" {
			continue
		}
		ln, err := listenUnix(p.path)
		if err != nil {
			_ = s.Close()
			return nil, err
		}
		s.lns = append(s.lns, ln)
		s.wg.Add(1)
		go s.accept(ln, p.serve)
	}
	s.wg.Add(1)
	go s.evolver()
	return s, nil
}

func listenUnix(path string) (net.Listener, error) {
	ln, err := net.Listen("unix", path)
	if err == nil {
		return ln, nil
	}
	if c, cerr := net.DialTimeout("unix", path, time.Second); cerr == nil {
		_ = c.Close()
		return nil, err // someone listens there
	}
	_ = os.Remove(path)
	return net.Listen("unix", path)
}

func (s *Server) accept(ln net.Listener, serve func(net.Conn)) {
	defer s.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			serve(c)
		}()
	}
}

// evolver is the agent's evolution thread: it checks the key once a
// second.
func (s *Server) evolver() {
	defer s.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
			s.Agent.Evolve()
		}
	}
}

func (s *Server) serveControl(c net.Conn) {
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	var req request
	if err := json.NewDecoder(bufio.NewReader(c)).Decode(&req); err != nil {
		return
	}
	var resp response
	result := func(r RecvResult) { n := int(r); resp.Result = &n }
	switch req.Op {
	case "gen-staged-key":
		vk, err := s.Agent.GenStagedKey()
		if err != nil {
			resp.Error = err.Error()
		} else {
			resp.VKey = hex.EncodeToString(vk[:])
		}
	case "export-staged-vkey":
		if vk, ok := s.Agent.StagedVKey(); ok {
			resp.VKey = hex.EncodeToString(vk[:])
		}
	case "drop-staged-key":
		s.Agent.DropStagedKey()
	case "install-key":
		if req.OCert == nil {
			result(RecvErrorUnknown)
			break
		}
		oc, err := req.OCert.ocert()
		if err != nil {
			result(RecvErrorInvalidOpCert)
			break
		}
		result(s.Agent.InstallKey(oc))
	case "drop-key":
		result(s.Agent.DropKey())
	case "info":
		in := s.Agent.Info()
		in.BootstrapOff = s.Bootstrap
		resp.Info = toWireInfo(in)
	default:
		result(RecvErrorUnsupportedOperation)
	}
	_ = json.NewEncoder(c).Encode(resp)
}

func (s *Server) serveService(c net.Conn) {
	ch, stop := s.Agent.Subscribe()
	defer stop()
	closed := make(chan struct{})
	go func() { // notice the client going away
		_, _ = c.Read(make([]byte, 1))
		close(closed)
	}()
	enc := json.NewEncoder(c)
	for {
		select {
		case <-s.done:
			return
		case <-closed:
			return
		case p, ok := <-ch:
			if !ok {
				return
			}
			err := enc.Encode(toWirePush(p))
			clear(p.Key)
			if err != nil {
				return
			}
		}
	}
}

// Close stops serving and removes the socket files; the agent forgets its
// keys (a kes-agent that stops loses them).
func (s *Server) Close() error {
	var errs []error
	s.once.Do(func() {
		close(s.done)
		for _, ln := range s.lns {
			errs = append(errs, ln.Close())
		}
		s.Agent.Close()
		s.wg.Wait()
	})
	return errors.Join(errs...)
}
