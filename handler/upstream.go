package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/signalr-entra/handler/internal/loopback"
	"github.com/signalr-entra/handler/settings"
)

const (
	fnUpstream = "upstream"
	// eventsOutputName is the output the upstream function writes each
	// accepted event to in payload mode. The host keeps only the outputs
	// function.json declares, so the name is harmless where it is not.
	eventsOutputName = "events"
	// DefaultAuthorityHost is public Azure's Entra ID.
	DefaultAuthorityHost = "https://login.microsoftonline.com/"
)

// UpstreamOptions configure how upstream requests, which SignalR Service
// posts to the upstream function, are authenticated. Every configured check
// must pass; with none configured every upstream request is refused.
type UpstreamOptions struct {
	// AccessKeys check X-ASRS-Signature: the access keys of the endpoints'
	// connection strings. Defaults to none.
	AccessKeys []settings.Secret
	// Audience, when set, requires a bearer token for this audience: the
	// resource of the upstream rule's ManagedIdentity auth
	// (SIGNALR_UPSTREAM_AUDIENCE). Defaults to none.
	Audience string
	// Tenant is the tenant of the SignalR resource's identity, whose OpenID
	// configuration signs tokens (SIGNALR_UPSTREAM_TENANT). Required with
	// Audience.
	Tenant string
	// Identity, when set, is the object id or app id a token must name
	// (SIGNALR_UPSTREAM_IDENTITY). Defaults to any identity of the tenant.
	Identity string
	// AuthorityHost is Entra ID's host (AZURE_AUTHORITY_HOST). Defaults to
	// DefaultAuthorityHost.
	AuthorityHost string
	// HTTPClient fetches the OpenID configuration and keys. Defaults to a
	// client with a 10s timeout that follows no redirects.
	HTTPClient *http.Client
	// Now is the clock tokens are checked against. Defaults to time.Now.
	Now func() time.Time
}

// upstream serves the upstream function.
type upstream struct {
	auth   *upstreamAuth
	mu     sync.RWMutex
	funcs  map[eventKey]EventFunc
	logged sync.Map // warnings said once
}

func newUpstream(o UpstreamOptions, log *slog.Logger) (*upstream, error) {
	up := &upstream{auth: &upstreamAuth{log: log}, funcs: map[eventKey]EventFunc{}}
	for _, k := range o.AccessKeys {
		if k.Reveal() != "" {
			up.auth.keys = append(up.auth.keys, []byte(k.Reveal()))
		}
	}
	o.Audience, o.Tenant, o.Identity = strings.TrimSpace(o.Audience), strings.TrimSpace(o.Tenant), strings.TrimSpace(o.Identity)
	if o.Audience == "" {
		if o.Identity != "" || o.Tenant != "" {
			return nil, errors.New("SIGNALR_UPSTREAM_IDENTITY and SIGNALR_UPSTREAM_TENANT take effect only with SIGNALR_UPSTREAM_AUDIENCE: set it to the resource of the upstream rule's ManagedIdentity auth")
		}
		return up, nil
	}
	configURLs, err := openIDConfigurationURLs(o.AuthorityHost, o.Tenant)
	if err != nil {
		return nil, err
	}
	client := o.HTTPClient
	if client == nil {
		client = &http.Client{
			Timeout: 10 * time.Second,
			// A redirect could lead to plain http: refuse it.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	up.auth.tokens = &tokenValidator{audience: o.Audience, identity: o.Identity, configURLs: configURLs, client: client, now: o.Now, log: log}
	return up, nil
}

// openIDConfigurationURLs returns the tenant's v1 and v2 OpenID
// configuration URLs.
func openIDConfigurationURLs(authorityHost, tenant string) ([2]string, error) {
	switch strings.ToLower(tenant) {
	case "":
		return [2]string{}, errors.New("SIGNALR_UPSTREAM_TENANT is not set: with SIGNALR_UPSTREAM_AUDIENCE, set it to the tenant id of the SignalR resource's identity")
	case "common", "organizations", "consumers":
		return [2]string{}, fmt.Errorf("invalid SIGNALR_UPSTREAM_TENANT value %q: name the tenant of the SignalR resource's identity by its id, such as 72f988bf-86f1-41af-91ab-2d7cd011db47", tenant)
	}
	if strings.ContainsAny(tenant, "/?#% ") {
		return [2]string{}, fmt.Errorf("invalid SIGNALR_UPSTREAM_TENANT value %q: use a tenant id or domain", tenant)
	}
	if authorityHost == "" {
		authorityHost = DefaultAuthorityHost
	}
	u, err := url.Parse(authorityHost)
	if err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && loopback.Is(u.Hostname()))) {
		return [2]string{}, fmt.Errorf("invalid AZURE_AUTHORITY_HOST value %q: use the https URL of the cloud's Entra ID, such as %s", authorityHost, DefaultAuthorityHost)
	}
	base := strings.TrimSuffix(u.String(), "/") + "/" + tenant
	return [2]string{base + "/.well-known/openid-configuration", base + "/v2.0/.well-known/openid-configuration"}, nil
}

// logOnce warns of kind the first time only.
func (up *upstream) logOnce(log *slog.Logger, kind, msg string, attrs ...any) {
	if _, seen := up.logged.LoadOrStore(kind, true); !seen {
		log.Warn(msg, attrs...)
	}
}

// servedHub returns the served hub name matches: the service lowercases
// hub names, so case does not tell hubs apart.
func (h *Handler) servedHub(name string) (string, bool) {
	for _, hub := range h.hubs {
		if strings.EqualFold(hub, name) {
			return hub, true
		}
	}
	return "", false
}

// upstreamEvent serves one upstream request. The checks run before
// anything else, so that a caller that is not the service learns nothing,
// not even which hubs are served.
func (h *Handler) upstreamEvent(ctx context.Context, c *call) *reply {
	if c.method != http.MethodPost {
		return methodNotAllowed(c, "POST")
	}
	if r := h.up.auth.check(ctx, c.header); r != nil {
		h.up.auth.logRefusal(r, c.id)
		c.outcome = append(c.outcome, "refused", r.kind)
		return &reply{status: http.StatusUnauthorized, body: rawBody(nil)}
	}
	mediaType, _, _ := mime.ParseMediaType(c.header.Get("Content-Type"))
	if mediaType != contentTypeJSON && mediaType != contentTypeMsgpack {
		return errorReply(http.StatusUnsupportedMediaType, c,
			"the content type is "+truncateQuote(c.header.Get("Content-Type"))+"; upstream bodies are application/json or application/x-msgpack")
	}
	e := &Event{
		Hub:          c.header.Get(headerHub),
		Category:     c.header.Get(headerCategory),
		Event:        c.header.Get(headerEvent),
		ConnectionID: c.header.Get(headerConnectionID),
		UserID:       c.header.Get(headerUserID),
		svc:          h.svc,
	}
	var missing []string
	for _, header := range [][2]string{{headerHub, e.Hub}, {headerCategory, e.Category}, {headerEvent, e.Event}, {headerConnectionID, e.ConnectionID}} {
		if header[1] == "" {
			missing = append(missing, header[0])
		}
	}
	if len(missing) > 0 {
		return errorReply(http.StatusBadRequest, c, "the request lacks the headers "+strings.Join(missing, ", ")+", which SignalR Service sends upstream")
	}
	hub, ok := h.servedHub(e.Hub)
	if !ok {
		return errorReply(http.StatusNotFound, c, "hub "+truncateQuote(e.Hub)+" is not served here; the hubs are "+strings.Join(h.hubs, ", ")+" (SIGNALR_HUBS)")
	}
	e.Hub = hub
	if c.tooLarge {
		return errorReply(http.StatusRequestEntityTooLarge, c, fmt.Sprintf("the body is larger than %d bytes (SIGNALR_MAX_BODY_BYTES)", h.maxBody))
	}
	msgpack := mediaType == contentTypeMsgpack
	if msgpack && c.payload {
		h.up.logOnce(c.log, "msgpack payload", "a MessagePack upstream request reached the host's payload mode, which hands bodies on as text and garbles binary data; "+
			"answer MessagePack clients from a forwarded upstream function (only the req and res bindings, and enableForwardingHttpRequest in host.json), or have clients use the JSON protocol")
		return errorReply(http.StatusUnsupportedMediaType, c, "MessagePack upstream bodies cannot pass the Functions host's payload mode; the function log says what to change")
	}
	m, err := h.decodeUpstream(e, c.body, msgpack)
	if err != nil {
		c.log.Warn("invalid upstream body", "hub", e.Hub, "category", e.Category, "event", truncate(e.Event, 200), "error", err)
		return errorReply(http.StatusBadRequest, c, err.Error())
	}
	e.InvocationID, e.Arguments, e.Error = m.invocationID, m.arguments, m.error
	e.Claims = parseClaims(c.header.Get(headerUserClaims))
	e.Query = parseClientQuery(c.header.Get(headerClientQuery))

	rep := h.runEvent(ctx, c, e, msgpack)
	c.outcome = append(c.outcome, "hub", e.Hub, "category", e.Category, "event", truncate(e.Event, 200), "connectionId", truncate(e.ConnectionID, 100))
	if c.payload && rep.status < 300 {
		b, err := json.Marshal(e)
		if err != nil {
			panic(err) // strings, maps of strings and valid JSON only
		}
		rep.outputs = map[string]any{eventsOutputName: string(b)}
	}
	return rep
}

// decodeUpstream reads the body the event's category and name call for.
// Category and connection event names match without regard to case, as in
// the C# extension, and take the service's spelling.
func (h *Handler) decodeUpstream(e *Event, body []byte, msgpack bool) (*upstreamMessage, error) {
	for _, c := range []string{CategoryConnections, CategoryMessages} {
		if strings.EqualFold(e.Category, c) {
			e.Category = c
		}
	}
	switch {
	case e.Category == CategoryConnections && msgpack:
		return nil, errors.New("connection events come as application/json, not MessagePack")
	case e.Category == CategoryConnections && len(bytes.TrimSpace(body)) == 0 && isConnectionEvent(e.Event):
		// The headers say it all; the host drops a body it got chunked.
		e.Event = strings.ToLower(e.Event)
		return &upstreamMessage{}, nil
	case e.Category == CategoryConnections && strings.EqualFold(e.Event, EventConnected):
		e.Event = EventConnected
		return decodeJSONUpstream(body, typeConnected)
	case e.Category == CategoryConnections && strings.EqualFold(e.Event, EventDisconnected):
		e.Event = EventDisconnected
		return decodeJSONUpstream(body, typeDisconnect)
	case e.Category == CategoryConnections:
		return nil, fmt.Errorf("the connections category has the events connected and disconnected, not %s", truncateQuote(e.Event))
	case e.Category != CategoryMessages:
		return nil, fmt.Errorf("category %s is not connections or messages", truncateQuote(e.Category))
	}
	var m *upstreamMessage
	var err error
	if msgpack {
		m, err = decodeMsgpackInvocation(body)
	} else {
		m, err = decodeJSONUpstream(body, typeInvocation)
	}
	if err != nil {
		return nil, err
	}
	if !strings.EqualFold(m.target, e.Event) {
		// The C# extension refuses this too: the header routed the request.
		return nil, fmt.Errorf("the invocation's target %s is not the event %s", truncateQuote(m.target), truncateQuote(e.Event))
	}
	return m, nil
}

func isConnectionEvent(event string) bool {
	return strings.EqualFold(event, EventConnected) || strings.EqualFold(event, EventDisconnected)
}

// runEvent runs the event's function, if any, and frames the answer.
func (h *Handler) runEvent(ctx context.Context, c *call, e *Event, msgpack bool) *reply {
	h.up.mu.RLock()
	fn := h.up.funcs[newEventKey(e.Hub, e.Category, e.Event)]
	h.up.mu.RUnlock()
	var result any
	var err error
	if fn != nil {
		result, err = fn(ctx, e)
	}
	ok := &reply{status: http.StatusOK, body: rawBody(nil)}
	switch {
	case e.Category == CategoryConnections && err != nil && e.Event == EventConnected:
		c.log.Warn("the connected function refused the connection (403)", "hub", e.Hub, "error", err)
		return &reply{status: http.StatusForbidden, body: rawBody(nil)}
	case err != nil && e.InvocationID == "":
		c.log.Warn("the event's function failed", "hub", e.Hub, "event", truncate(e.Event, 200), "error", err)
		return ok
	case e.InvocationID == "":
		// Nobody awaits a result: the service ignores the body.
		return ok
	case err != nil:
		c.log.Warn("the invocation's function failed; the client gets its error", "hub", e.Hub, "event", truncate(e.Event, 200), "error", err)
		return completionReply(e.InvocationID, nil, err.Error(), msgpack)
	case result == nil:
		// An empty 200 completes the invocation with no result.
		return ok
	}
	raw, merr := json.Marshal(result)
	if merr != nil {
		c.log.Error("the invocation's result cannot be encoded as JSON", "hub", e.Hub, "event", truncate(e.Event, 200), "error", merr)
		return completionReply(e.InvocationID, nil, "the result could not be serialized", msgpack)
	}
	return completionReply(e.InvocationID, raw, "", msgpack)
}

// completionReply frames a hub protocol completion in the client's
// protocol: the service passes a 200's body to the client as it is.
func completionReply(invocationID string, result json.RawMessage, errMsg string, msgpack bool) *reply {
	var b []byte
	contentType := contentTypeJSON
	if msgpack {
		contentType = contentTypeMsgpack
		b = appendMsgpackCompletion(invocationID, result, errMsg)
	} else {
		b = appendJSONCompletion(nil, invocationID, result, errMsg)
	}
	rep := &reply{status: http.StatusOK, body: rawBody(b)}
	rep.setHeader("Content-Type", contentType)
	return rep
}

// appendJSONCompletion appends {"type":3,"invocationId":…,"result"|"error":…}
// and the record separator.
func appendJSONCompletion(dst []byte, invocationID string, result json.RawMessage, errMsg string) []byte {
	dst = append(dst, `{"type":3,"invocationId":`...)
	dst = appendJSONString(dst, invocationID)
	if errMsg != "" {
		dst = append(dst, `,"error":`...)
		dst = appendJSONString(dst, errMsg)
	} else {
		dst = append(dst, `,"result":`...)
		dst = append(dst, result...)
	}
	return append(dst, '}', recordSeparator)
}

// The MessagePack completion's result kinds (hub protocol).
const (
	resultKindError    = 1
	resultKindNonVoid  = 3
	completionTypeCode = 3
)

// appendMsgpackCompletion returns the length-prefixed MessagePack
// completion [3, {}, invocationId, resultKind, result or error].
func appendMsgpackCompletion(invocationID string, result json.RawMessage, errMsg string) []byte {
	msg := appendMsgpackArrayHeader(nil, 5)
	msg = appendMsgpackInt(msg, completionTypeCode)
	msg = appendMsgpackMapHeader(msg, 0)
	msg = appendMsgpackString(msg, invocationID)
	if errMsg != "" {
		msg = appendMsgpackInt(msg, resultKindError)
		msg = appendMsgpackString(msg, errMsg)
	} else {
		msg = appendMsgpackInt(msg, resultKindNonVoid)
		var err error
		if msg, err = appendMsgpackFromJSON(msg, result); err != nil {
			panic(err) // result came from json.Marshal
		}
	}
	return append(appendVarint(make([]byte, 0, len(msg)+5), len(msg)), msg...)
}

// parseClaims reads X-ASRS-User-Claims, "type: value" entries joined by
// commas, as the C# extension does: entries that do not split in two at
// ": " are skipped, and the first value of a type wins.
func parseClaims(header string) map[string]string {
	if header == "" {
		return nil
	}
	claims := map[string]string{}
	for entry := range strings.SplitSeq(header, ",") {
		parts := strings.Split(entry, ": ")
		parts = removeEmpty(parts)
		if len(parts) != 2 {
			continue
		}
		k := strings.TrimSpace(parts[0])
		if _, seen := claims[k]; !seen {
			claims[k] = strings.TrimSpace(parts[1])
		}
	}
	return claims
}

func removeEmpty(parts []string) []string {
	out := parts[:0]
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// parseClientQuery reads X-ASRS-Client-Query, the client's raw query with
// its leading "?"; a repeated key's values are joined with commas.
func parseClientQuery(header string) map[string]string {
	if header == "" {
		return nil
	}
	values, _ := url.ParseQuery(strings.TrimPrefix(header, "?")) // keep what parses
	query := make(map[string]string, len(values))
	for k, vs := range values {
		query[k] = strings.Join(vs, ",")
	}
	return query
}

// Validate reports what New would refuse in o.
func (o UpstreamOptions) Validate() error {
	_, err := newUpstream(o, slog.New(slog.DiscardHandler))
	return err
}

// OpenIDConfiguration is what the upstream token check reads from Entra ID.
type OpenIDConfiguration struct {
	// URL is the tenant's v1 OpenID configuration.
	URL string
	// Issuers are the issuers tokens may name.
	Issuers []string
	// KeyIDs name the signing keys, sorted.
	KeyIDs []string
}

// OpenIDConfiguration fetches the tenant's OpenID configuration and keys as
// the token check does. It fails when o sets no Audience.
func (o UpstreamOptions) OpenIDConfiguration(ctx context.Context) (*OpenIDConfiguration, error) {
	log := slog.New(slog.DiscardHandler)
	up, err := newUpstream(o, log)
	if err != nil {
		return nil, err
	}
	v := up.auth.tokens
	if v == nil {
		return nil, errors.New("SIGNALR_UPSTREAM_AUDIENCE is not set, so no token is checked")
	}
	set, err := fetchKeySet(ctx, v.client, v.configURLs, log)
	if err != nil {
		return nil, err
	}
	c := &OpenIDConfiguration{URL: v.configURLs[0], Issuers: set.issuers}
	for kid := range set.keys {
		c.KeyIDs = append(c.KeyIDs, kid)
	}
	slices.Sort(c.KeyIDs)
	return c, nil
}
