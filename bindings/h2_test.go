package bindings

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
)

// h2Reset is an HTTP/2 server (prior knowledge, RFC 9113 §3.3) that reads
// each request whole, counts it, and answers the first with RST_STREAM
// PROTOCOL_ERROR, as a proxy on the way may after it passed the request
// on; the others get 204. Frames are written by hand: a status from the
// HPACK static table (RFC 7541 appendix A) needs no encoder.
type h2Reset struct {
	ln       net.Listener
	requests atomic.Int32
}

func newH2Reset(t *testing.T) *h2Reset {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &h2Reset{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *h2Reset) URL() string { return "http://" + s.ln.Addr().String() }

func writeFrame(w io.Writer, typ, flags byte, stream uint32, payload []byte) error {
	h := make([]byte, 9, 9+len(payload))
	h[0], h[1], h[2] = byte(len(payload)>>16), byte(len(payload)>>8), byte(len(payload))
	h[3], h[4] = typ, flags
	binary.BigEndian.PutUint32(h[5:], stream)
	_, err := w.Write(append(h, payload...))
	return err
}

func (s *h2Reset) serve(c net.Conn) {
	defer c.Close()
	const (
		frameData, frameHeaders, frameRST, frameSettings = 0, 1, 3, 4
		flagEndStream, flagAck, flagEndHeaders           = 1, 1, 4
		protocolError                                    = 1
		status204                                        = 0x80 | 9
	)
	r := bufio.NewReader(c)
	if _, err := io.ReadFull(r, make([]byte, 24)); err != nil { // the client preface
		return
	}
	if writeFrame(c, frameSettings, 0, 0, nil) != nil {
		return
	}
	for {
		var h [9]byte
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return
		}
		n := int(h[0])<<16 | int(h[1])<<8 | int(h[2])
		typ, flags, stream := h[3], h[4], binary.BigEndian.Uint32(h[5:])&0x7fffffff
		if _, err := io.ReadFull(r, make([]byte, n)); err != nil {
			return
		}
		var err error
		switch {
		case typ == frameSettings && flags&flagAck == 0:
			err = writeFrame(c, frameSettings, flagAck, 0, nil)
		case (typ == frameData || typ == frameHeaders) && flags&flagEndStream != 0:
			if s.requests.Add(1) == 1 {
				err = writeFrame(c, frameRST, 0, stream, binary.BigEndian.AppendUint32(nil, protocolError))
			} else {
				err = writeFrame(c, frameHeaders, flagEndStream|flagEndHeaders, stream, []byte{status204})
			}
		}
		if err != nil {
			return
		}
	}
}

// TestHTTP2ResetAfterWriteNotResent: net/http's HTTP/2 transport sends a
// request again after a RST_STREAM PROTOCOL_ERROR whenever it can rewind
// the body, though the request was written whole and may have been acted
// on. A send must reach the service once, and its outcome is unknown.
func TestHTTP2ResetAfterWriteNotResent(t *testing.T) {
	s := newH2Reset(t)
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	t.Cleanup(tr.CloseIdleConnections)
	ep := EndpointConfig{ServiceURI: mustURL(t, s.URL()), AccessKey: "k"}
	c, _ := newTestClient(t, []EndpointConfig{ep}, Options{ClientOptions: azcore.ClientOptions{Transport: &http.Client{Transport: tr}}})
	err := c.Endpoints()[0].Broadcast(ctx(), "chat", hello)
	if got, n := OutcomeOf(err), s.requests.Load(); got != Unknown || n != 1 {
		t.Errorf("outcome %q after %d requests (error %v), want unknown after 1", got, n, err)
	}
	// A request with no body is sent again: a health check is safe to repeat.
	s.requests.Store(0)
	if err := c.Endpoints()[0].Health(ctx()); err != nil || s.requests.Load() != 2 {
		t.Errorf("health check: %v after %d requests, want success after 2", err, s.requests.Load())
	}
}
