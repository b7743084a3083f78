package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// outMsg is a framed message for a client; last closes the connection
// after it.
type outMsg struct {
	data []byte
	last bool
}

// conn is one client's WebSocket connection.
type conn struct {
	id, hub, user string
	// claims are the client token's claims as "type: value", and query is
	// the connect request's query with its leading "?", for upstream.
	claims  []string
	query   string
	ws      *websocket.Conn
	proto   hubProtocol // set by the handshake
	out     chan outMsg
	closing sync.Once

	// awaiting holds the REST invocations waiting for the client's
	// completion, by invocation id; nil once the connection has ended.
	mu       sync.Mutex
	awaiting map[string]chan clientMessage
	ended    bool
}

// await registers an invocation id, for the client's completion; ok is
// false once the connection has ended.
func (c *conn) await(id string) (ch chan clientMessage, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return nil, false
	}
	if c.awaiting == nil {
		c.awaiting = map[string]chan clientMessage{}
	}
	ch = make(chan clientMessage, 1)
	c.awaiting[id] = ch
	return ch, true
}

// forget drops an invocation id that is no longer awaited.
func (c *conn) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.awaiting, id)
}

// complete hands the client's completion to the invocation awaiting it;
// a completion nobody awaits is dropped, as the service does.
func (c *conn) complete(m clientMessage) {
	c.mu.Lock()
	ch := c.awaiting[m.invocationID]
	delete(c.awaiting, m.invocationID)
	c.mu.Unlock()
	if ch != nil {
		ch <- m
	}
}

// end fails the invocations still awaited: the client is gone.
func (c *conn) end() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ended = true
	for id, ch := range c.awaiting {
		close(ch)
		delete(c.awaiting, id)
	}
}

// outBuffer is how many messages may wait for a slow client before the
// service gives up on it.
const outBuffer = 256

// maxPending bounds the bytes of an unfinished message kept between frames.
const maxPending = 1 << 20

// send queues a framed message; a client too slow to keep up is dropped.
func (c *conn) send(msg []byte) {
	select {
	case c.out <- outMsg{data: msg}:
	default:
		c.drop()
	}
}

// close sends a close message with the reason, then closes the connection.
func (c *conn) close(reason string) {
	c.closing.Do(func() {
		select {
		case c.out <- outMsg{data: c.proto.closeMessage(reason), last: true}:
		default:
			c.drop()
		}
	})
}

// drop closes the WebSocket at once, with no close message.
func (c *conn) drop() { _ = c.ws.CloseNow() }

// handshakeTimeout bounds the wait for the client's handshake.
const handshakeTimeout = 15 * time.Second

// abruptClose is the disconnected event's error for a client gone without
// a WebSocket close, in the words of .NET's WebSocket, which the service
// passes on.
const abruptClose = "The remote party closed the WebSocket connection without completing the close handshake."

// serve runs the connection until it ends: handshake, the connected event,
// then a writer with pings and a reader that hands invocations upstream
// one at a time, as the service does; last the disconnected event.
func (s *Server) serve(ctx context.Context, c *conn) {
	defer c.drop()
	hctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	pending, err := s.handshake(hctx, c)
	cancel()
	if err != nil {
		s.log.Info("client handshake failed", "connectionId", c.id, "err", err)
		return
	}
	// Registered before the handshake reply, so a client that has its
	// reply is already reachable by REST calls.
	s.register(c)
	if err := c.ws.Write(ctx, c.proto.frameType(), record(struct{}{})); err != nil {
		s.unregister(c)
		c.end()
		return
	}

	ctx, cancel = context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { s.write(ctx, c, cancel) })
	errMsg := s.read(ctx, c, pending)
	// Stop the writer before waiting for it: it may sit idle until the next
	// ping, and the connection stays listed until serve returns.
	cancel()
	wg.Wait()
	s.unregister(c)
	c.end()
	s.disconnected(c, errMsg)
}

// read posts the connected event, then reads the client's messages until
// the connection ends. It returns the disconnected event's error: none
// when the client closed or the connection was ended here, else why it
// broke.
func (s *Server) read(ctx context.Context, c *conn, pending []byte) string {
	s.post(ctx, c, upstreamEvent{category: categoryConnections, event: eventConnected,
		contentType: contentTypeJSON, body: []byte(`{"type":10}`)})
	for {
		msgs, rest, err := c.proto.split(pending)
		for _, m := range msgs {
			if !s.handle(ctx, c, m) {
				return ""
			}
		}
		if err == nil && len(rest) > maxPending {
			err = fmt.Errorf("a message is over %d bytes", maxPending)
		}
		if err != nil {
			c.close("Connection closed with an error. " + err.Error())
			return err.Error()
		}
		_, data, err := c.ws.Read(ctx)
		if err != nil {
			if websocket.CloseStatus(err) == -1 && ctx.Err() == nil {
				return abruptClose
			}
			return ""
		}
		pending = append(rest, data...)
	}
}

// disconnected posts the disconnected event: {"Type":11}, with "Error"
// when there is one. Nothing is posted while the server closes.
func (s *Server) disconnected(c *conn, errMsg string) {
	if s.ctx.Err() != nil {
		return
	}
	body, _ := json.Marshal(struct {
		Type  int
		Error string `json:",omitempty"`
	}{11, errMsg})
	s.post(s.ctx, c, upstreamEvent{category: categoryConnections, event: eventDisconnected, contentType: contentTypeJSON, body: body})
}

// handshake reads the client's handshake, picks its protocol and answers a
// bad one; it returns the bytes that came after it in the same frame.
func (s *Server) handshake(ctx context.Context, c *conn) ([]byte, error) {
	_, data, err := c.ws.Read(ctx)
	if err != nil {
		return nil, err
	}
	i := bytes.IndexByte(data, recordSeparator)
	if i < 0 {
		return nil, errors.New("the handshake is not terminated by 0x1E")
	}
	p, err := parseHandshake(data[:i])
	if err != nil {
		_ = c.ws.Write(ctx, websocket.MessageText, record(map[string]string{"error": err.Error()}))
		return nil, err
	}
	c.proto = p
	return data[i+1:], nil
}

// handle acts on one message from the client; false ends the connection.
func (s *Server) handle(ctx context.Context, c *conn, msg []byte) bool {
	m, err := c.proto.parse(msg)
	if err != nil {
		c.close("Connection closed with an error. " + err.Error())
		return true
	}
	switch m.typ {
	case msgClose:
		return false
	case msgInvocation:
		s.invoke(ctx, c, m)
	case msgCompletion:
		c.complete(m)
	}
	return true
}

// invoke posts an invocation upstream and, when the client awaits it,
// answers as the service does: a 200 body goes to the client as it is (a
// framed completion written by the app), an empty 200 or a 204 completes
// with no result, any other status fails the invocation.
func (s *Server) invoke(ctx context.Context, c *conn, m clientMessage) {
	reply, ok := s.post(ctx, c, upstreamEvent{category: categoryMessages, event: m.target,
		contentType: c.proto.contentType(), body: m.upstream})
	if m.invocationID == "" {
		return
	}
	switch {
	case !ok:
		c.send(c.proto.completion(m.invocationID, noUpstream))
	case reply.status == http.StatusOK && reply.tooLarge:
		c.send(c.proto.completion(m.invocationID, "Invocation failed, response too large."))
	case reply.status == http.StatusOK && len(reply.body) > 0:
		c.send(reply.body)
	case reply.status == http.StatusOK, reply.status == http.StatusNoContent:
		c.send(c.proto.completion(m.invocationID, ""))
	default:
		c.send(c.proto.completion(m.invocationID, fmt.Sprintf("Invocation failed, status code %d", reply.status)))
	}
}

// write sends queued messages and a ping every PingInterval.
func (s *Server) write(ctx context.Context, c *conn, stop context.CancelFunc) {
	defer stop()
	t := time.NewTicker(s.opts.PingInterval)
	defer t.Stop()
	ping := c.proto.ping()
	for {
		var m outMsg
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m = outMsg{data: ping}
		case m = <-c.out:
		}
		if err := c.ws.Write(ctx, c.proto.frameType(), m.data); err != nil {
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
