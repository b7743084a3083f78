package emulator

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync/atomic"
)

// invocationIDs numbers the service's own invocations of client methods.
var invocationIDs atomic.Int64

// codeInvocationFailed answers an invocation the client failed.
const codeInvocationFailed = "Error.Invocation.Failed"

// invocationReply is ClientInvocationResponse of the REST API.
type invocationReply struct {
	Result json.RawMessage `json:"result"`
}

// invokeClient calls a method on one client and answers with what it
// returns: the client's completion, read in its own protocol. The call
// waits for the client as long as the caller does.
func (s *Server) invokeClient(w http.ResponseWriter, r *http.Request, rt route) {
	p, err := readPayload(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "", "BadRequest", err.Error())
		return
	}
	c := s.hubs.conn(rt.hub, rt.connection)
	if c == nil {
		writeError(w, http.StatusNotFound, codeConnectionNotExisted, "NotFound", "the connection "+strconv.Quote(rt.connection)+" is not connected to the hub")
		return
	}
	id := "s" + strconv.FormatInt(invocationIDs.Add(1), 10)
	frame, err := c.proto.invocation(id, p.Target, p.Arguments)
	if err != nil {
		writeError(w, http.StatusBadRequest, "", "BadRequest", "the arguments cannot be written in the client's protocol: "+err.Error())
		return
	}
	done, ok := c.await(id)
	if !ok {
		writeError(w, http.StatusNotFound, codeConnectionNotExisted, "NotFound", "the connection "+strconv.Quote(rt.connection)+" has ended")
		return
	}
	defer c.forget(id)
	c.send(frame)
	select {
	case m, ok := <-done:
		switch {
		case !ok:
			writeError(w, http.StatusNotFound, codeConnectionNotExisted, "NotFound", "the connection "+strconv.Quote(rt.connection)+" ended before it answered")
		case m.errMsg != "":
			writeError(w, http.StatusBadRequest, codeInvocationFailed, "InvocationFailed", m.errMsg)
		default:
			writeJSON(w, http.StatusOK, invocationReply{Result: m.result})
		}
	case <-r.Context().Done():
	case <-s.ctx.Done():
		writeError(w, http.StatusServiceUnavailable, "", "ServiceUnavailable", "the service is shutting down")
	}
}

// conn returns a connection of the hub, or nil.
func (h *hubs) conn(hubName, id string) *conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.get(hubName).conns[id]
}
