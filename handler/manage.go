package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/signalr-entra/handler/bindings"
	"github.com/signalr-entra/handler/internal/hostproto"
)

// fnManage is the function that closes connections, checks existence,
// lists a group's connections and invokes client methods.
const fnManage = "manage"

// Manager is what the manage function asks of the service, one method per
// REST operation; *bindings.Client has them all.
type Manager interface {
	CloseConnection(ctx context.Context, hub, connection, reason string) (bindings.Route, error)
	CloseConnections(ctx context.Context, hub, userID, groupName, reason string, excluded []string) (bindings.Route, error)
	Exists(ctx context.Context, hub string, q bindings.Existence) (bool, error)
	ListConnectionsInGroup(ctx context.Context, hub, group string, top, limit int) ([]bindings.GroupMember, error)
	Invoke(ctx context.Context, hub, connection string, p bindings.Payload) (json.RawMessage, error)
}

// maxListed bounds the connections one listConnections gathers without a
// top, so that one reply stays a few megabytes.
const maxListed = 100_000

// The manage actions, each the REST operation of the same name.
const (
	actCloseConnection  = "closeConnection"
	actCloseConnections = "closeConnections"
	actExists           = "exists"
	actListConnections  = "listConnections"
	actInvoke           = "invoke"
)

// manageFields are the fields each action takes besides "action".
var manageFields = map[string][]string{
	actCloseConnection:  {"connectionId", "reason"},
	actCloseConnections: {"userId", "groupName", "all", "excluded", "reason"},
	actExists:           {"connectionId", "userId", "groupName"},
	actListConnections:  {"groupName", "top"},
	actInvoke:           {"connectionId", "target", "arguments"},
}

// manageFieldNames are every action's fields, and "action".
var manageFieldNames = func() []string {
	names := []string{"action"}
	for _, fs := range manageFields {
		for _, f := range fs {
			if !slices.Contains(names, f) {
				names = append(names, f)
			}
		}
	}
	return names
}()

var manageActions = []string{actCloseConnection, actCloseConnections, actExists, actListConnections, actInvoke}

// manageAction is one item of a manage request.
type manageAction struct {
	Action       string               `json:"action"`
	ConnectionID string               `json:"connectionId"`
	UserID       string               `json:"userId"`
	GroupName    string               `json:"groupName"`
	Excluded     bindings.ExcludedIDs `json:"excluded"`
	Reason       string               `json:"reason"`
	// All closes every connection of the hub: only on purpose, never
	// because an address was left out (a JavaScript undefined drops it).
	All       bool            `json:"all"`
	Top       int             `json:"top"`
	Target    string          `json:"target"`
	Arguments json.RawMessage `json:"arguments"`
}

// manageResult is the outcome of one action, in the reply's results.
type manageResult struct {
	Index       int                     `json:"index"`
	Error       string                  `json:"error,omitempty"`
	Exists      *bool                   `json:"exists,omitempty"`
	Connections *[]bindings.GroupMember `json:"connections,omitempty"`
	Result      json.RawMessage         `json:"result,omitempty"`
}

// manageBody answers a manage request: each action's result, in order;
// with error and correlationId when some failed.
type manageBody struct {
	Error         string         `json:"error,omitempty"`
	CorrelationID string         `json:"correlationId,omitempty"`
	Results       []manageResult `json:"results"`
}

// manage runs the actions of the body one after another, in order, each
// with its own result; the status is the first failure's, as messages
// answers.
func (h *Handler) manage(ctx context.Context, c *call) *reply {
	if c.http && c.method != http.MethodPost {
		return methodNotAllowed(c, "POST")
	}
	hub, rep := h.hub(c)
	if rep != nil {
		return rep
	}
	m, ok := h.svc.(Manager)
	if !ok {
		return errorReply(http.StatusNotImplemented, c, "this service client cannot manage connections")
	}
	if c.tooLarge {
		return errorReply(http.StatusRequestEntityTooLarge, c,
			fmt.Sprintf("the body is larger than %d bytes (SIGNALR_MAX_BODY_BYTES); send fewer actions per request", h.maxBody))
	}
	actions, err := decodeManage(c.body, h.maxItems)
	var tooMany *bindings.ItemLimitError
	switch {
	case errors.As(err, &tooMany):
		return errorReply(http.StatusRequestEntityTooLarge, c,
			fmt.Sprintf("the body holds more than %d actions (SIGNALR_MAX_ITEMS); send fewer per request", h.maxItems))
	case err != nil:
		c.log.Warn("invalid manage body", "error", err)
		return errorReply(http.StatusBadRequest, c, err.Error())
	}
	results := make([]manageResult, len(actions))
	status, failed := 0, 0
	// No action starts once a shutdown begins; the one running goes on to
	// the drain's cutoff.
	admit, stopAdmitting := drainOf(ctx).admitting(ctx)
	defer stopAdmitting()
	// What the service answered stays in memory until the reply is
	// written: an invocation's result is up to a megabyte of the client's
	// choosing, a list a few megabytes. It counts against the bytes in
	// flight, and no action starts once they are spent.
	var held int64
	defer func() { h.inflight.release(held) }()
	spent := false
	for i, a := range actions {
		results[i] = manageResult{Index: i}
		notRun, st := "", 0
		switch {
		case spent:
			notRun, st = fmt.Sprintf("not run: the results before it fill the bytes the handler keeps in flight (%d, SIGNALR_MAX_INFLIGHT_BYTES); send it again in a request of its own", h.inflight.limit), http.StatusServiceUnavailable
		case errors.Is(context.Cause(admit), errShuttingDown):
			notRun, st = "not run: the handler is shutting down; send it again", http.StatusServiceUnavailable
		case admit.Err() != nil:
			notRun, st = "not run: the request's time ran out before its turn", http.StatusGatewayTimeout
		}
		if notRun != "" {
			results[i].Error = notRun
			failed++
			if status == 0 {
				status = st
			}
			continue
		}
		if err := runAction(ctx, m, hub, a, &results[i]); err != nil {
			st, msg := classifyManage(a, err)
			if errors.Is(context.Cause(ctx), errDrainEnded) {
				st, msg = http.StatusServiceUnavailable, "cut off: the handler shut down before SignalR Service answered"
			}
			if a.Action == actInvoke && bindings.OutcomeOf(err) == bindings.Unknown {
				// Sent, and no answer came back: the caller must not
				// take it for an invocation that never ran.
				msg = "the invocation's answer was lost (" + msg + "): the client may have run the method; check before invoking it again"
			}
			c.log.Error("manage action failed", "hub", hub, "index", i, "action", a.Action, "status", st, "error", err)
			results[i] = manageResult{Index: i, Error: msg}
			failed++
			if status == 0 {
				status = st
			}
		}
		n := results[i].size()
		held += n
		spent = !h.inflight.take(n)
	}
	if failed == 0 {
		c.outcome = append(c.outcome, slog.String("hub", hub), slog.Int("count", len(actions)))
		return &reply{status: http.StatusOK, body: manageBody{Results: results}}
	}
	out := &reply{status: status, body: manageBody{
		Error:         fmt.Sprintf("%d of %d actions failed; each result says why", failed, len(actions)),
		CorrelationID: c.id,
		Results:       results,
	}}
	if spent {
		out.setHeader("Retry-After", inflightRetryAfter)
	}
	return out
}

// size is about what the result takes in memory and in the reply.
func (r *manageResult) size() int64 {
	n := int64(len(r.Result) + len(r.Error) + 32)
	if r.Connections != nil {
		for _, m := range *r.Connections {
			n += int64(len(m.ConnectionID) + len(m.UserID) + 48)
		}
	}
	return n
}

// runAction carries out one action and fills its result.
func runAction(ctx context.Context, m Manager, hub string, a manageAction, r *manageResult) error {
	switch a.Action {
	case actCloseConnection:
		_, err := m.CloseConnection(ctx, hub, a.ConnectionID, a.Reason)
		return err
	case actCloseConnections:
		_, err := m.CloseConnections(ctx, hub, a.UserID, a.GroupName, a.Reason, a.Excluded)
		return err
	case actExists:
		ok, err := m.Exists(ctx, hub, bindings.Existence{ConnectionID: a.ConnectionID, UserID: a.UserID, GroupName: a.GroupName})
		r.Exists = &ok
		return err
	case actListConnections:
		conns, err := m.ListConnectionsInGroup(ctx, hub, a.GroupName, a.Top, maxListed)
		if conns == nil {
			conns = []bindings.GroupMember{}
		}
		r.Connections = &conns
		return err
	default:
		res, err := m.Invoke(ctx, hub, a.ConnectionID, bindings.Payload{Target: a.Target, Arguments: a.Arguments})
		r.Result = res
		return err
	}
}

// classifyManage is classify, but an invocation the client failed, or a
// connection that is not there, says so in the service's words: the
// caller's to act on.
func classifyManage(a manageAction, err error) (int, string) {
	var be *bindings.Error
	if a.Action == actInvoke && errors.As(err, &be) {
		switch {
		case bindings.IsNotFound(err):
			return http.StatusNotFound, fmt.Sprintf("connection %s is not connected to the hub", hostproto.Quote(a.ConnectionID))
		case be.Status == http.StatusBadRequest && be.Message != "":
			return http.StatusBadRequest, "the invocation failed: " + be.Message
		}
	}
	return classify(err)
}

// decodeManage reads one action object or an array of them. Each is
// checked before any runs: its action known, its fields those the action
// takes, none twice in any case of its name (which one would count is a
// guess), and no address empty.
func decodeManage(data []byte, maxItems int) ([]manageAction, error) {
	data = bytes.TrimSpace(data)
	switch {
	case len(data) == 0:
		return nil, errors.New("the body is empty: send one manage action as a JSON object, or a JSON array of them, " +
			"with a Content-Length header (the Functions host drops a body sent chunked, without one)")
	case data[0] != '{' && data[0] != '[':
		return nil, fmt.Errorf("the body is not a manage action: send a JSON object or an array of them, such as %s", `{"action":"exists","userId":"ada"}`)
	case !utf8.Valid(data):
		return nil, errors.New("the actions hold bytes that are not UTF-8: send names and arguments as UTF-8 text")
	}
	var items []json.RawMessage
	if data[0] == '{' {
		items = []json.RawMessage{data}
	} else {
		d := json.NewDecoder(bytes.NewReader(data))
		if _, err := d.Token(); err != nil {
			return nil, fmt.Errorf("the actions are not valid JSON: %w", err)
		}
		for d.More() {
			if maxItems > 0 && len(items) == maxItems {
				return nil, &bindings.ItemLimitError{Kind: "manage action", Max: maxItems}
			}
			var it json.RawMessage
			if err := d.Decode(&it); err != nil {
				return nil, fmt.Errorf("the actions are not valid JSON: %w", err)
			}
			items = append(items, it)
		}
		if _, err := d.Token(); err != nil {
			return nil, fmt.Errorf("the actions are not valid JSON: %w", err)
		}
		if d.More() {
			return nil, errors.New("the actions are followed by more JSON: send one array")
		}
	}
	out := make([]manageAction, len(items))
	for i, it := range items {
		a, err := decodeAction(it)
		if err != nil {
			return nil, fmt.Errorf("manage action %d: %w", i, err)
		}
		out[i] = a
	}
	return out, nil
}

// decodeAction reads and checks one action.
func decodeAction(data json.RawMessage) (manageAction, error) {
	fields, err := objectFields(data)
	if err != nil {
		return manageAction{}, err
	}
	var a manageAction
	d := json.NewDecoder(bytes.NewReader(data))
	if err := d.Decode(&a); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return manageAction{}, fmt.Errorf("field %s is a JSON %s, want a %s", te.Field, te.Value, te.Type)
		}
		return manageAction{}, err
	}
	known, ok := manageFields[a.Action]
	if !ok {
		if _, given := fields["action"]; !given {
			return manageAction{}, fmt.Errorf("action is missing: name one of %s", strings.Join(manageActions, ", "))
		}
		return manageAction{}, fmt.Errorf("unknown action %s: the actions are %s", hostproto.Quote(a.Action), strings.Join(manageActions, ", "))
	}
	for _, f := range slices.Sorted(maps.Keys(fields)) {
		spelled := fields[f]
		if f == "action" {
			continue
		}
		if !slices.ContainsFunc(known, func(k string) bool { return strings.EqualFold(k, f) }) {
			return manageAction{}, fmt.Errorf("unknown field %s for action %s: it takes %s. It is refused so that a misspelled address never reaches more clients than meant",
				hostproto.Quote(spelled), a.Action, strings.Join(known, ", "))
		}
	}
	for _, n := range []struct{ field, v string }{{"connectionId", a.ConnectionID}, {"userId", a.UserID}, {"groupName", a.GroupName}} {
		if _, given := fields[strings.ToLower(n.field)]; given && strings.TrimSpace(n.v) == "" {
			return manageAction{}, fmt.Errorf("%s is empty: name the %s, or leave the field out", n.field, strings.TrimSuffix(strings.TrimSuffix(n.field, "Id"), "Name"))
		}
	}
	return a, checkAction(a, fields)
}

// checkAction applies each action's rules on which fields go together.
func checkAction(a manageAction, fields map[string]string) error {
	_, hasArgs := fields["arguments"]
	switch a.Action {
	case actCloseConnection:
		if a.ConnectionID == "" {
			return errors.New("closeConnection needs connectionId")
		}
	case actCloseConnections:
		switch n := btoi(a.UserID != "") + btoi(a.GroupName != "") + btoi(a.All); {
		case n > 1:
			return errors.New(`closeConnections takes one of userId, groupName and "all": true: close a user's connections, a group's, or every one of the hub`)
		case n == 0:
			return errors.New(`closeConnections needs userId, groupName, or "all": true to close every connection of the hub`)
		}
		for _, x := range a.Excluded {
			if strings.TrimSpace(x) == "" {
				return errors.New("excluded holds an empty connection id: name each connection to keep")
			}
		}
	case actExists:
		switch {
		case a.ConnectionID != "" && (a.UserID != "" || a.GroupName != ""):
			return errors.New("exists takes connectionId alone, or userId, groupName, or both")
		case a.ConnectionID == "" && a.UserID == "" && a.GroupName == "":
			return errors.New("exists needs connectionId, userId, groupName, or userId and groupName")
		}
	case actListConnections:
		if a.GroupName == "" {
			return errors.New("listConnections needs groupName")
		}
		if _, given := fields["top"]; given && (a.Top < 1 || a.Top > maxListed) {
			return fmt.Errorf("top %d is not a count one reply holds: use 1 to %d, or leave it out to list all (up to %d)", a.Top, maxListed, maxListed)
		}
	case actInvoke:
		switch {
		case a.ConnectionID == "":
			return errors.New("invoke needs connectionId: a method is invoked on one connection")
		case a.Target == "":
			return errors.New(`invoke needs target: name the client method, such as "getLocation"`)
		case !hasArgs:
			return errors.New("invoke needs arguments: a JSON array, [] for none")
		}
		// Kept as the bytes that came in, as a message's arguments are.
		if args := bytes.TrimSpace(a.Arguments); len(args) > 0 && args[0] != '[' && !bytes.Equal(args, []byte("null")) {
			return fmt.Errorf("arguments is a JSON %s, not an array: put the arguments in [ ]", jsonKind(args[0]))
		}
	}
	return nil
}

// objectFields returns the names of an object's fields, lower-cased, each
// with its spelling; a name given twice in any case is refused. Case is
// Unicode simple folding, as encoding/json matches names: "uſerId" (with
// U+017F) fills UserID as "userId" does.
func objectFields(data json.RawMessage) (map[string]string, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("is %s, not a JSON object", abbreviateJSON(data))
	}
	fields := map[string]string{}
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return nil, fmt.Errorf("is not valid JSON: %w", err)
		}
		name := t.(string)
		key := strings.ToLower(name)
		if i := slices.IndexFunc(manageFieldNames, func(k string) bool { return strings.EqualFold(k, name) }); i >= 0 {
			key = strings.ToLower(manageFieldNames[i])
		}
		if first, dup := fields[key]; dup {
			return nil, fmt.Errorf("field %s is given twice (as %s and %s): give it once", hostproto.Quote(name), hostproto.Quote(first), hostproto.Quote(name))
		}
		fields[key] = name
		var skip json.RawMessage
		if err := d.Decode(&skip); err != nil {
			return nil, fmt.Errorf("is not valid JSON: %w", err)
		}
	}
	return fields, nil
}

// abbreviateJSON shows the start of a JSON value in an error.
func abbreviateJSON(data []byte) string {
	const n = 40
	if len(data) <= n {
		return string(data)
	}
	return string(data[:n]) + "…"
}

// jsonKind names the kind of JSON value that starts with c, as
// encoding/json's UnmarshalTypeError does.
func jsonKind(c byte) string {
	switch c {
	case '{':
		return "object"
	case '"':
		return "string"
	case 't', 'f':
		return "bool"
	default:
		return "number"
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
