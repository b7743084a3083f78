package funchost

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Version is what the stand-in sends as X-Azure-Functions-HostVersion.
const Version = "4.0.0-funchost"

const (
	invocationIDHeader = "X-Azure-Functions-InvocationId"
	hostVersionHeader  = "X-Azure-Functions-HostVersion"
	// proxyCorrelationHeader is ScriptConstants.HttpProxyCorrelationHeader,
	// which the proxy also sets to the invocation id.
	proxyCorrelationHeader = "x-ms-invocation-id"
	userAgent              = "Azure-Functions-Host/" + Version
)

// Invocation is what the host kept of one invocation.
type Invocation struct {
	Function string
	ID       string
	Mode     Mode
	// Status is the handler's HTTP status: in payload mode the status of
	// the payload reply (not of the http output).
	Status int
	// Outputs are the payload reply's Outputs by binding name.
	Outputs map[string]json.RawMessage
	// Logs are the payload reply's Logs, which the host logs under the
	// invocation at Information.
	Logs []string
	// Err is why the invocation failed, if it did.
	Err error
}

// Host hands requests to a custom handler the way the Functions host does.
type Host struct {
	App *App
	// Worker is the handler's base URL, http://127.0.0.1:<port>.
	Worker *url.URL
	// Client sends payloads and forwarded requests; it follows no redirects.
	Client *http.Client
	// FunctionKey, when set, is the key a non-anonymous function requires
	// (the code query parameter or x-functions-key header), and the
	// WebJobsAuthLevel identity of a payload.
	FunctionKey string
	// AppServiceAuthentication builds a payload's user identity from App
	// Service Authentication's X-MS-CLIENT-PRINCIPAL header, as the host
	// does when WEBSITE_AUTH_ENABLED is set.
	AppServiceAuthentication bool
	// Observe, when set, is called with each invocation once it is done.
	Observe func(Invocation)

	proxy *httputil.ReverseProxy
	once  sync.Once
	mu    sync.Mutex
	log   []Invocation
}

// New returns a Host for app in front of the handler at worker.
func New(app *App, worker string) (*Host, error) {
	u, err := url.Parse(worker)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("worker %q: want http://127.0.0.1:<port>", worker)
	}
	return &Host{
		App:    app,
		Worker: u,
		Client: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
	}, nil
}

// Invocations returns what the host kept of the invocations so far.
func (h *Host) Invocations() []Invocation {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Invocation(nil), h.log...)
}

func (h *Host) keep(inv Invocation) {
	h.mu.Lock()
	h.log = append(h.log, inv)
	h.mu.Unlock()
	if h.Observe != nil {
		h.Observe(inv)
	}
}

// ServeHTTP routes a caller's request to its function and invokes it in
// the mode the host picks.
func (h *Host) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f, params := h.App.Match(r.URL.Path, r.Method)
	if f == nil {
		notFound(w)
		return
	}
	level := strings.ToLower(f.Trigger().AuthLevel)
	keyed := h.FunctionKey != "" && (r.URL.Query().Get("code") == h.FunctionKey || r.Header.Get("x-functions-key") == h.FunctionKey)
	if h.FunctionKey != "" && level != "anonymous" && !keyed {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	id := newID()
	mode := h.App.Mode(f)
	inv := Invocation{Function: f.Name, ID: id, Mode: mode}
	switch mode {
	case Proxied:
		inv.Status, inv.Err = h.proxied(w, r, id)
	case Forwarded:
		inv.Status, inv.Err = h.forwarded(w, r, id)
	default:
		inv = h.payloadHTTP(w, r, f, params, id, keyed)
	}
	h.keep(inv)
}

// proxied sends the request on as DefaultHttpProxyService does, through
// YARP's HttpTransformer.Default: the path and query as received, every
// header but the hop-by-hop ones, Host rewritten to the handler's,
// X-Forwarded-For/Host/Proto set (the caller's removed), Forwarded removed,
// and the host's invocation headers set over any the caller sent. Bodies
// stream both ways.
func (h *Host) proxied(w http.ResponseWriter, r *http.Request, id string) (int, error) {
	h.once.Do(func() {
		h.proxy = &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.Out.URL.Scheme, pr.Out.URL.Host = h.Worker.Scheme, h.Worker.Host
				pr.Out.Host = ""
				// Set, not appended: the caller's values go (Go's proxy
				// drops the caller's X-Forwarded-For/Host/Proto itself).
				pr.Out.Header.Del("Forwarded")
				pr.Out.Header.Del("X-Forwarded-Prefix")
				if ip, _, err := net.SplitHostPort(pr.In.RemoteAddr); err == nil {
					pr.Out.Header.Set("X-Forwarded-For", ip)
				}
				pr.Out.Header.Set("X-Forwarded-Host", pr.In.Host)
				proto := "http"
				if pr.In.TLS != nil {
					proto = "https"
				}
				pr.Out.Header.Set("X-Forwarded-Proto", proto)
				inv := pr.In.Context().Value(invocationKey{}).(string)
				pr.Out.Header.Set(hostVersionHeader, Version)
				pr.Out.Header.Set(invocationIDHeader, inv)
				pr.Out.Header.Set(proxyCorrelationHeader, inv)
			},
			FlushInterval: -1,
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				*r.Context().Value(proxyErrKey{}).(*error) = err
				w.WriteHeader(http.StatusBadGateway)
			},
		}
	})
	var proxyErr error
	ctx := context.WithValue(context.WithValue(r.Context(), invocationKey{}, id), proxyErrKey{}, &proxyErr)
	sw := &statusWriter{ResponseWriter: w}
	h.proxy.ServeHTTP(sw, r.WithContext(ctx))
	return sw.status, proxyErr
}

type invocationKey struct{}
type proxyErrKey struct{}

// statusWriter notes the status written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// forwarded rebuilds the request as HttpRequestExtensions.ToHttpRequestMessage
// does: the original path, the query rebuilt from its dictionary (a repeated
// name's values joined with commas), every header, and the body only when
// Content-Length is over zero; then AddHeaders. The reply is read whole and
// passed on.
func (h *Host) forwarded(w http.ResponseWriter, r *http.Request, id string) (int, error) {
	u := *h.Worker
	u.Path, u.RawPath = r.URL.Path, r.URL.RawPath
	u.RawQuery = rebuiltQuery(r.URL.RawQuery)
	var body io.Reader
	if r.ContentLength > 0 {
		body = r.Body
	}
	out, err := http.NewRequestWithContext(r.Context(), r.Method, u.String(), body)
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return 0, err
	}
	for k, vs := range r.Header {
		out.Header[k] = append([]string(nil), vs...)
	}
	out.Host = r.Host
	if r.ContentLength > 0 {
		out.ContentLength = r.ContentLength
	}
	addHeaders(out.Header, id)
	resp, err := h.Client.Do(out)
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return 0, err
	}
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(b)
	return resp.StatusCode, nil
}

// addHeaders is DefaultHttpWorkerService.AddHeaders: the host's version,
// the invocation id, and its product appended to the User-Agent.
func addHeaders(hd http.Header, id string) {
	hd.Add(hostVersionHeader, Version)
	hd.Add(invocationIDHeader, id)
	if ua := hd.Get("User-Agent"); ua != "" {
		hd.Set("User-Agent", ua+" "+userAgent)
	} else {
		hd.Set("User-Agent", userAgent)
	}
}

// queryDictionary is HttpRequestExtensions.GetQueryCollectionAsDictionary:
// each name once, in order, its values joined with commas.
func queryDictionary(raw string) ([]string, map[string]string) {
	var names []string
	values := map[string]string{}
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		k, err1 := url.QueryUnescape(k)
		v, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			continue
		}
		if old, ok := values[k]; ok {
			values[k] = old + "," + v
			continue
		}
		names = append(names, k)
		values[k] = v
	}
	return names, values
}

func rebuiltQuery(raw string) string {
	names, values := queryDictionary(raw)
	var b strings.Builder
	for i, k := range names {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(k) + "=" + url.QueryEscape(values[k]))
	}
	return b.String()
}

// payloadHTTP posts an HTTP trigger's invocation payload and answers the
// caller from the http output of the reply.
func (h *Host) payloadHTTP(w http.ResponseWriter, r *http.Request, f *Function, params map[string]string, id string, keyed bool) Invocation {
	req, meta, err := h.requestObject(r, f, params, keyed)
	inv := Invocation{Function: f.Name, ID: id, Mode: Payload}
	if err != nil {
		inv.Err = err
		w.WriteHeader(http.StatusInternalServerError)
		return inv
	}
	trigger := f.Trigger().Name
	inv = h.invoke(r.Context(), f.Name, id, map[string]any{trigger: req}, meta)
	if inv.Err != nil {
		// A failed invocation is a 500 to the caller; the handler's reply
		// never reaches it.
		w.WriteHeader(http.StatusInternalServerError)
		return inv
	}
	out := f.HTTPOutput()
	var raw json.RawMessage
	if out == "$return" {
		raw = inv.Outputs["$return"]
	} else {
		raw = inv.Outputs[out]
	}
	if err := writeHTTPOutput(w, raw); err != nil {
		inv.Err = err
	}
	return inv
}

// writeHTTPOutput answers the caller from an http output value
// {statusCode, status, headers, body}: a string body as its bytes, any
// other body as JSON written again (indented), as the host's object result
// does.
func writeHTTPOutput(w http.ResponseWriter, raw json.RawMessage) error {
	if len(raw) == 0 {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	var o struct {
		StatusCode json.RawMessage            `json:"statusCode"`
		Headers    map[string]json.RawMessage `json:"headers"`
		Body       json.RawMessage            `json:"body"`
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return fmt.Errorf("http output: %w", err)
	}
	status := http.StatusOK
	if s := strings.Trim(string(o.StatusCode), `"`); s != "" && s != "null" {
		n, err := strconv.Atoi(s)
		if err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			return fmt.Errorf("http output statusCode %s", o.StatusCode)
		}
		status = n
	}
	for k, v := range o.Headers {
		var s string
		if json.Unmarshal(v, &s) != nil {
			s = string(v)
		}
		w.Header().Set(k, s)
	}
	var body []byte
	var s string
	switch {
	case len(o.Body) == 0 || string(o.Body) == "null":
	case json.Unmarshal(o.Body, &s) == nil:
		body = []byte(s)
	default:
		var buf bytes.Buffer
		_ = json.Indent(&buf, o.Body, "", "  ")
		body = buf.Bytes()
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
	return nil
}

// Trigger invokes a function whose trigger is not HTTP (a queue, a timer)
// with value as the trigger binding's data, as the host posts it.
func (h *Host) Trigger(ctx context.Context, function, binding string, value any, metadata map[string]any) Invocation {
	if metadata == nil {
		metadata = map[string]any{}
	}
	metadata["sys"] = sys(function)
	inv := h.invoke(ctx, function, newID(), map[string]any{binding: value}, metadata)
	h.keep(inv)
	return inv
}

// QueueMessage is a queue item holding text as the host puts it in Data:
// the string serialized as JSON, which the payload then encodes again.
func QueueMessage(text string) any {
	b, _ := json.Marshal(text)
	return string(b)
}

// invoke posts {"Data", "Metadata"} to /<function> and reads the reply as
// ProcessDefaultInvocationRequest does: a status outside 2xx or a body that
// is not JSON fails the invocation.
func (h *Host) invoke(ctx context.Context, function, id string, data, metadata map[string]any) Invocation {
	inv := Invocation{Function: function, ID: id, Mode: Payload}
	b, err := json.Marshal(map[string]any{"Data": data, "Metadata": metadata})
	if err != nil {
		inv.Err = err
		return inv
	}
	u := *h.Worker
	u.Path = "/" + function
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(b))
	if err != nil {
		inv.Err = err
		return inv
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	addHeaders(req.Header, id)
	resp, err := h.Client.Do(req)
	if err != nil {
		inv.Err = err
		return inv
	}
	defer resp.Body.Close()
	inv.Status = resp.StatusCode
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		inv.Err = err
		return inv
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		inv.Err = fmt.Errorf("the handler answered %d: %s", resp.StatusCode, body)
		return inv
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" {
		inv.Err = fmt.Errorf("the handler answered with content type %q, which the host cannot read", resp.Header.Get("Content-Type"))
		return inv
	}
	var reply struct {
		Outputs     map[string]json.RawMessage `json:"Outputs"`
		Logs        []string                   `json:"Logs"`
		ReturnValue json.RawMessage            `json:"ReturnValue"`
	}
	if err := json.Unmarshal(body, &reply); err != nil {
		inv.Err = fmt.Errorf("the payload reply is not an HttpScriptInvocationResult: %w", err)
		return inv
	}
	inv.Outputs, inv.Logs = reply.Outputs, reply.Logs
	if len(reply.ReturnValue) > 0 && string(reply.ReturnValue) != "null" {
		if inv.Outputs == nil {
			inv.Outputs = map[string]json.RawMessage{}
		}
		inv.Outputs["$return"] = reply.ReturnValue
	}
	return inv
}

// requestObject is HttpRequestExtensions.GetRequestAsJObject, and the
// Metadata the host writes beside it.
func (h *Host) requestObject(r *http.Request, f *Function, params map[string]string, keyed bool) (map[string]any, map[string]any, error) {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	rawURL := scheme + "://" + r.Host + r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		rawURL += "?" + r.URL.RawQuery
	}
	_, query := queryDictionary(r.URL.RawQuery)
	headers := map[string][]string{"Host": {r.Host}}
	single := map[string]string{"Host": r.Host}
	for k, vs := range r.Header {
		headers[k] = vs
		single[k] = strings.Join(vs, ",")
	}
	req := map[string]any{
		"Url":        rawURL,
		"Method":     r.Method,
		"Query":      query,
		"Headers":    headers,
		"Identities": h.identities(r, keyed),
	}
	meta := map[string]any{"Query": query, "Headers": single, "sys": sys(f.Name)}
	if len(params) > 0 {
		req["Params"] = params
		for k, v := range params {
			meta[k] = jsonString(v)
		}
	}
	for k, v := range query {
		if _, ok := meta[k]; !ok {
			meta[k] = jsonString(v)
		}
	}
	if r.ContentLength > 0 {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, nil, err
		}
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if mt == "application/octet-stream" || strings.HasPrefix(mt, "multipart/") {
			req["Body"] = base64.StdEncoding.EncodeToString(b)
		} else {
			req["Body"] = strings.ToValidUTF8(string(b), "\uFFFD")
		}
	}
	return req, meta, nil
}

// identities are the request principal's ClaimsIdentities: App Service
// Authentication's user, then the function key's, else one anonymous.
func (h *Host) identities(r *http.Request, keyed bool) []map[string]any {
	var out []map[string]any
	if h.AppServiceAuthentication {
		if id := principalIdentity(r.Header.Get("X-MS-CLIENT-PRINCIPAL")); id != nil {
			out = append(out, id)
		}
	}
	if keyed {
		out = append(out, identity("WebJobsAuthLevel", [][2]string{
			{"http://schemas.microsoft.com/2017/07/functions/claims/authlevel", "Function"},
			{"http://schemas.microsoft.com/2017/07/functions/claims/invoke", "true"},
			{"http://schemas.microsoft.com/2017/07/functions/claims/keyid", "default"},
		}))
	}
	if len(out) == 0 {
		out = append(out, identity("", nil))
	}
	return out
}

func principalIdentity(header string) map[string]any {
	b, err := base64.StdEncoding.DecodeString(header)
	if err != nil {
		return nil
	}
	var p struct {
		AuthType string `json:"auth_typ"`
		Claims   []struct {
			Typ string `json:"typ"`
			Val string `json:"val"`
		} `json:"claims"`
	}
	if json.Unmarshal(b, &p) != nil || p.AuthType == "" {
		return nil
	}
	claims := make([][2]string, 0, len(p.Claims))
	for _, c := range p.Claims {
		claims = append(claims, [2]string{c.Typ, c.Val})
	}
	return identity(p.AuthType, claims)
}

// identity is a ClaimsIdentity as Newtonsoft.Json writes it.
func identity(authType string, claims [][2]string) map[string]any {
	cs := make([]map[string]any, 0, len(claims))
	for _, c := range claims {
		cs = append(cs, map[string]any{
			"Issuer": "LOCAL AUTHORITY", "OriginalIssuer": "LOCAL AUTHORITY", "Properties": map[string]any{},
			"Type": c[0], "Value": c[1], "ValueType": "http://www.w3.org/2001/XMLSchema#string",
		})
	}
	var at any
	if authType != "" {
		at = authType
	}
	return map[string]any{
		"AuthenticationType": at, "IsAuthenticated": authType != "", "Actor": nil, "BootstrapContext": nil,
		"Claims": cs, "Label": nil, "Name": nil,
		"NameClaimType": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
		"RoleClaimType": "http://schemas.microsoft.com/ws/2008/06/identity/claims/role",
	}
}

func sys(function string) map[string]any {
	return map[string]any{"MethodName": function, "UtcNow": time.Now().UTC().Format(time.RFC3339Nano), "RandGuid": newID()}
}

// jsonString is a Metadata string value, which the host encodes as JSON a
// second time.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// newID is a random GUID, as the host's invocation ids are.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// WaitReady polls GET / on the handler every 25 ms until any HTTP answer,
// as DefaultHttpWorkerService.IsWorkerReady does, for at most timeout (the
// host's initializationTimeout, 30 s by default).
func WaitReady(ctx context.Context, worker string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(worker, "/")+"/", nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.Join(errors.New("the handler did not answer GET / in time"), err)
		case <-time.After(25 * time.Millisecond):
		}
	}
}
