package emulator

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// outMsg is a record for a client; last closes the connection after it.
type outMsg struct {
	data []byte
	last bool
}

// conn is one client's WebSocket connection speaking the JSON hub protocol.
type conn struct {
	id, hub, user string
	ws            *websocket.Conn
	out           chan outMsg
	closing       sync.Once
}

// outBuffer is how many records may wait for a slow client before the
// service gives up on it.
const outBuffer = 256

// send queues an invocation record; a client too slow to keep up is dropped.
func (c *conn) send(rec []byte) {
	select {
	case c.out <- outMsg{data: rec}:
	default:
		c.drop()
	}
}

// close sends a close message with the reason, then closes the connection.
func (c *conn) close(reason string) {
	c.closing.Do(func() {
		select {
		case c.out <- outMsg{data: record(hubMessage{Type: msgClose, Error: reason}), last: true}:
		default:
			c.drop()
		}
	})
}

// drop closes the WebSocket at once, with no close message.
func (c *conn) drop() { _ = c.ws.CloseNow() }

// handshakeTimeout bounds the wait for the client's handshake.
const handshakeTimeout = 15 * time.Second

// serve runs the connection until it ends: handshake, then a writer with
// pings and a reader that answers what a serverless hub can.
func (s *Server) serve(ctx context.Context, c *conn) {
	defer c.drop()
	hctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	rest, err := s.handshake(hctx, c)
	cancel()
	if err != nil {
		s.log.Info("client handshake failed", "connectionId", c.id, "err", err)
		return
	}
	// Registered before the handshake reply, so a client that has its
	// reply is already reachable by REST calls.
	s.register(c)
	defer s.unregister(c)
	if err := c.ws.Write(ctx, websocket.MessageText, record(struct{}{})); err != nil {
		return
	}

	ctx, cancel = context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { s.write(ctx, c, cancel) })
	// Stop the writer before waiting for it: it may sit idle until the next
	// ping, and the connection stays listed until serve returns.
	defer func() {
		cancel()
		wg.Wait()
	}()
	for {
		for _, rec := range rest {
			if !s.handle(c, rec) {
				return
			}
		}
		_, data, err := c.ws.Read(ctx)
		if err != nil {
			return
		}
		rest, _ = splitRecords(data)
	}
}

// handshake reads the client's handshake and answers a bad one; it returns
// the records that came after it in the same frame.
func (s *Server) handshake(ctx context.Context, c *conn) ([][]byte, error) {
	_, data, err := c.ws.Read(ctx)
	if err != nil {
		return nil, err
	}
	recs, _ := splitRecords(data)
	if len(recs) == 0 {
		return nil, errors.New("the handshake is not terminated by 0x1E")
	}
	if _, err := parseHandshake(recs[0]); err != nil {
		_ = c.ws.Write(ctx, websocket.MessageText, record(map[string]string{"error": err.Error()}))
		return nil, err
	}
	return recs[1:], nil
}

// handle acts on one record from the client; false ends the connection.
func (s *Server) handle(c *conn, rec []byte) bool {
	m, err := parseHubMessage(rec)
	if err != nil {
		c.close("Connection closed with an error. " + err.Error())
		return true
	}
	switch m.Type {
	case msgClose:
		return false
	case msgInvocation:
		// In serverless mode with no upstream, nothing can run the
		// invocation; a caller waiting for a result is told so.
		if m.InvocationID != "" {
			c.send(record(hubMessage{Type: msgCompletion, InvocationID: m.InvocationID, Error: "No server available: the hub is in serverless mode with no upstream."}))
		}
	}
	return true
}

// write sends queued records and a ping every PingInterval.
func (s *Server) write(ctx context.Context, c *conn, stop context.CancelFunc) {
	defer stop()
	t := time.NewTicker(s.opts.PingInterval)
	defer t.Stop()
	ping := record(hubMessage{Type: msgPing})
	for {
		var m outMsg
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m = outMsg{data: ping}
		case m = <-c.out:
		}
		if err := c.ws.Write(ctx, websocket.MessageText, m.data); err != nil {
			return
		}
		if m.last {
			_ = c.ws.Close(websocket.StatusNormalClosure, "")
			return
		}
	}
}

func (s *Server) register(c *conn) {
	h := s.hubs
	h.mu.Lock()
	defer h.mu.Unlock()
	h.get(c.hub).conns[c.id] = c
	s.count(func(n *Counts) { n.Connections++ })
}

// unregister forgets the connection and its direct group memberships.
func (s *Server) unregister(c *conn) {
	h := s.hubs
	h.mu.Lock()
	defer h.mu.Unlock()
	b := h.get(c.hub)
	delete(b.conns, c.id)
	for g, ids := range b.groups {
		delete(ids, c.id)
		if len(ids) == 0 {
			delete(b.groups, g)
		}
	}
}
