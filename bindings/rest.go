package bindings

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
)

const (
	apiVersion    = "2022-06-01"
	maxReplyBytes = 1 << 20
	// moduleName goes into the telemetry User-Agent, with moduleVersion.
	moduleName = "signalr-bindings"
)

// moduleVersion is the version of this module as the program was built
// with it, "devel" when it is the program's own module.
var moduleVersion = sync.OnceValue(func() string {
	const path = "github.com/signalr-entra/handler"
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, m := range append([]*debug.Module{&info.Main}, info.Deps...) {
			if m.Path == path && m.Version != "" && m.Version != "(devel)" {
				return m.Version
			}
		}
	}
	return "devel"
})

// request is one call to the service.
type request struct {
	op     string // for errors: "send to group"
	kind   reqKind
	method string
	path   string // escaped, from the root of the server endpoint
	query  url.Values
	body   []byte
	// notFound accepts a 404 that carries x-ms-error-code as an answer
	// ("no such user"), not a failure.
	notFound bool
}

// reqKind classifies requests by the role that allows them, for messages,
// and by whether they may be retried.
type reqKind int

const (
	kindAuthAPI reqKind = iota
	kindGenerateToken
	kindRead  // HEAD existence checks
	kindWrite // membership changes and closing connections
	kindSend  // a repeated send delivers the message twice
	kindHealth
)

// newPipeline is the HTTP pipeline of every REST call of a Client: azcore's
// (retries with Retry-After and retry-after-ms, per-try timeouts, request
// ids, telemetry, logging with redaction) over a transport that bounds
// replies and notes whether a request was written.
func newPipeline(o *Options) runtime.Pipeline {
	co := o.ClientOptions
	co.Transport = &boundedTransport{next: o.Transport}
	return runtime.NewPipeline(moduleName, moduleVersion(), runtime.PipelineOptions{
		// One x-ms-client-request-id per call, the same on its retries,
		// for the service's logs and support cases.
		PerCall:                []policy.Policy{runtime.NewRequestIDPolicy()},
		AllowedHeaders:         []string{"x-ms-error-code", "Retry-After", "retry-after-ms"},
		AllowedQueryParameters: []string{"api-version", "application"},
	}, &co)
}

// retryOptions are the retry rules of one kind of request. Sends and group
// actions are repeated only when the service cannot have taken them (see
// safeToRepeat): a gateway's 502, 503 or 504, or a reset after the request
// was written, may come after the service acted, and a second try would
// deliver the message twice. The Management SDK retries message calls on
// every status above 500; this client does not, on purpose.
func (e *Endpoint) retryOptions(k reqKind) policy.RetryOptions {
	r := e.opts.Retry
	switch k {
	case kindSend, kindWrite:
		r.ShouldRetry = safeToRepeat
	case kindHealth:
		// checkHealth retries on its own schedule.
		r.MaxRetries = -1
	case kindAuthAPI:
		// The auth API's own bound, short of the request's: a hung call
		// fails and is retried, not waited out.
		if r.TryTimeout == 0 || r.TryTimeout > e.opts.FetchTimeout {
			r.TryTimeout = e.opts.FetchTimeout
		}
	}
	return r
}

// safeToRepeat says whether a failed try of a send can be repeated without
// risk of a second delivery: the request was never written, or the service
// itself refused it for throttling (429 with its error code). A repeat that
// would outlast the caller's deadline is not made.
func safeToRepeat(resp *http.Response, err error) bool {
	if err != nil {
		return errors.As(err, new(*notWrittenError))
	}
	if resp.StatusCode != http.StatusTooManyRequests || !serviceAnswered(resp) {
		return false
	}
	ctx := resp.Request.Context()
	if d, ok := ctx.Deadline(); ok && time.Until(d) < retryAfter(resp.Header, time.Now()) {
		return false
	}
	if last, ok := ctx.Value(lastTryKey{}).(*lastTry); ok {
		last.repeatable.Store(true)
	}
	return true
}

// serviceAnswered reports whether a failure reply comes from SignalR
// Service itself: its error replies carry the x-ms-error-code header, or an
// ErrorDetail body with a code (REST API reference, "default" responses).
// A gateway or proxy on the way answers in its own shape.
func serviceAnswered(resp *http.Response) bool {
	if resp.Header.Get("x-ms-error-code") != "" {
		return true
	}
	body, err := runtime.Payload(resp)
	if err != nil {
		return false
	}
	var detail struct {
		Code string `json:"code"`
	}
	return json.Unmarshal(body, &detail) == nil && detail.Code != ""
}

// notWrittenError is a transport failure before the request was written
// whole: the service cannot have acted on it.
type notWrittenError struct{ err error }

func (e *notWrittenError) Error() string { return e.err.Error() }
func (e *notWrittenError) Unwrap() error { return e.err }

// errWrittenOnce refuses the transport a second write of a request.
var errWrittenOnce = errors.New("the request was written once and may have been acted on; it is not sent again")

// writtenBody is the body of a request written once: reading it fails.
type writtenBody struct{}

func (writtenBody) Read([]byte) (int, error) { return 0, errWrittenOnce }
func (writtenBody) Close() error             { return nil }

// lastTry records whether the last try of a send or group action was
// written, and whether safeToRepeat found that try safe to repeat. When
// the caller's context ends during a try or the wait before the next one,
// azcore's retry policy returns the context's error in place of what the
// try met; written still tells a send never written from one that may
// have been delivered. And the transport writes a request again only
// after a try that was never written or that safeToRepeat allowed, so
// that no policy of the caller's (PerCallPolicies, PerRetryPolicies) can
// repeat a send the service may have taken.
type lastTry struct {
	written, repeatable atomic.Bool
}

type lastTryKey struct{}

// boundedTransport reads at most maxReplyBytes of a reply, and marks a
// failure before the request was written with notWrittenError. A
// transport that does not report writes (httptrace) has every request
// count as written.
type boundedTransport struct {
	next policy.Transporter
}

func (t *boundedTransport) Do(req *http.Request) (*http.Response, error) {
	last, _ := req.Context().Value(lastTryKey{}).(*lastTry)
	if last != nil {
		if last.written.Load() && !last.repeatable.Load() {
			// Not a notWrittenError: the try before may have been taken.
			return nil, errWrittenOnce
		}
		last.repeatable.Store(false)
	}
	if err := req.Context().Err(); err != nil {
		// net/http gives up on it before GetConn, unseen.
		if last != nil {
			last.written.Store(false)
		}
		return nil, &notWrittenError{err}
	}
	// net/http's transports report GetConn before they dial, then
	// WroteRequest; one that reports neither may have written the request.
	var traced, written atomic.Bool
	trace := &httptrace.ClientTrace{
		GetConn: func(string) { traced.Store(true) },
		WroteRequest: func(i httptrace.WroteRequestInfo) {
			if i.Err == nil {
				written.Store(true)
			}
		},
	}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	if rewind := req.GetBody; rewind != nil {
		// net/http's HTTP/2 transport sends a request again, rewinding its
		// body, after a RST_STREAM PROTOCOL_ERROR (h2_bundle.go,
		// http2canRetryError), though it was written whole and a proxy on
		// the way may have passed it on. It waits for the write to end
		// first, so written is known here. A rewound body that fails its
		// first read ends such a second try before its body, where the
		// service cannot act on it; http.Client, which rewinds before it
		// asks CheckRedirect, still gets the redirect back unread.
		// Retries are the retry policy's to decide; net/http keeps those
		// of requests never written.
		req.GetBody = func() (io.ReadCloser, error) {
			if written.Load() {
				return writtenBody{}, nil
			}
			return rewind()
		}
	}
	resp, err := t.next.Do(req)
	if !traced.Load() {
		written.Store(true)
	}
	if last != nil {
		last.written.Store(written.Load())
	}
	if err != nil {
		err = redactURLError(err)
		if !written.Load() {
			err = &notWrittenError{err}
		}
		return nil, err
	}
	resp.Body = &limitedBody{r: io.LimitReader(resp.Body, maxReplyBytes+1), c: resp.Body}
	if resp.Request == nil {
		// safeToRepeat finds the call's lastTry through it.
		resp.Request = req
	}
	return resp, nil
}

// limitedBody fails a reply longer than maxReplyBytes.
type limitedBody struct {
	r io.Reader
	c io.Closer
	n int
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += n
	if b.n > maxReplyBytes {
		return n, fmt.Errorf("the reply is longer than %d bytes", maxReplyBytes)
	}
	return n, err
}

func (b *limitedBody) Close() error { return b.c.Close() }

// do sends r through the pipeline and returns the status and body of the
// reply, or an *Error. After a 401 to an Entra token it gets a new token
// and temporary key and tries once more (see renewCredentials): the
// service refused the request, so it took nothing.
func (e *Endpoint) do(ctx context.Context, r request) (int, []byte, error) {
	status, body, gen, err := e.once(ctx, r)
	if err != nil && ctx.Err() == nil && e.renewCredentials(r.op, err, gen) {
		status, body, _, err = e.once(ctx, r)
		var be *Error
		if errors.As(err, &be) && be.Status == http.StatusUnauthorized && e.accessKey == nil {
			be.Message += " A new token from the credential was refused too."
		}
	}
	return status, body, err
}

// once sends r one time through the pipeline, which retries as r's kind
// allows; gen is the generation of the Entra token it carried.
func (e *Endpoint) once(ctx context.Context, r request) (status int, body []byte, gen uint64, err error) {
	q := r.query
	if q == nil {
		q = url.Values{}
	}
	if r.kind != kindAuthAPI && q.Get("api-version") == "" {
		q.Set("api-version", apiVersion)
	}
	target := e.serverBase + r.path
	ctx = policy.WithRetryOptions(ctx, e.retryOptions(r.kind))
	// Sends and group actions are tried again only when the try before
	// did not take effect, so the last try says what became of them.
	var last *lastTry
	if r.kind == kindSend || r.kind == kindWrite {
		last = new(lastTry)
		ctx = context.WithValue(ctx, lastTryKey{}, last)
	}
	req, err := runtime.NewRequest(ctx, r.method, target+"?"+q.Encode())
	if err != nil {
		return 0, nil, 0, &Error{Op: r.op, Endpoint: e.uri, Message: "cannot build the request", Err: err, Outcome: NotSent}
	}
	if r.body != nil {
		if err := req.SetBody(streaming.NopCloser(bytes.NewReader(r.body)), "application/json"); err != nil {
			return 0, nil, 0, &Error{Op: r.op, Endpoint: e.uri, Message: "cannot build the request", Err: err, Outcome: NotSent}
		}
	}
	if r.kind != kindHealth {
		auth, g, err := e.authorization(ctx, target)
		if err != nil {
			return 0, nil, 0, err
		}
		gen = g
		req.Raw().Header.Set("Authorization", auth)
	}
	resp, err := e.pipeline.Do(req)
	if err != nil {
		var reply []byte
		if resp != nil {
			status = resp.StatusCode
			reply, _ = runtime.Payload(resp)
		}
		if last != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			switch {
			case resp == nil && !last.written.Load():
				return 0, nil, gen, &Error{Op: r.op, Endpoint: e.uri, Message: "the time ran out before the request could be sent; it is safe to send again. Check the network path to " + e.uri, Err: err, Outcome: NotSent}
			case resp != nil && status >= 300:
				// The answer came whole; the deadline ended the wait
				// for another try.
				return status, reply, gen, e.statusError(r.op, r.kind, resp, reply)
			}
		}
		outcome := Unknown
		msg := "no reply came from the service; it may have acted on the request. Check the network path to " + e.uri
		if errors.As(err, new(*notWrittenError)) {
			outcome = NotSent
			msg = "the request could not be sent; check the network path to " + e.uri + " and the service URI of " + e.label
		}
		if status != 0 {
			msg = "the reply was cut short"
		}
		return status, reply, gen, &Error{Op: r.op, Endpoint: e.uri, Status: status, Message: msg, Err: err, Outcome: outcome}
	}
	data, err := runtime.Payload(resp)
	switch {
	case err != nil:
		return resp.StatusCode, nil, gen, &Error{Op: r.op, Endpoint: e.uri, Status: resp.StatusCode, Message: "the reply was cut short", Err: err, Outcome: Unknown}
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return resp.StatusCode, data, gen, nil
	case resp.StatusCode == http.StatusNotFound && r.notFound && resp.Header.Get("x-ms-error-code") != "":
		return resp.StatusCode, data, gen, nil
	}
	return resp.StatusCode, data, gen, e.statusError(r.op, r.kind, resp, data)
}

// authorization is the bearer of a request to target (a URL without query):
// the Entra token itself in Entra mode (with its generation, for renew),
// else a short-lived token signed with the access key whose audience is
// the request URL.
func (e *Endpoint) authorization(ctx context.Context, target string) (string, uint64, error) {
	if e.accessKey != nil {
		now := e.now()
		var payload [512]byte
		claims := append(appendTimeClaims(append(payload[:0], '{'), target, now, now.Add(restTokenLife)), '}')
		return "Bearer " + signToken(e.accessKey, e.kid, claims), 0, nil
	}
	tok, gen, err := e.token.get(ctx, e.opts.KeyWait)
	if err != nil {
		return "", 0, e.waitError(err)
	}
	return "Bearer " + tok.Token, gen, nil
}

// renewCredentials answers a 401 to the Entra token of generation gen: the
// service no longer takes the token (revoked, or the service restarted),
// and likely forgot the temporary key too, whose client tokens it would
// refuse alike. It drops both and fetches new ones, logged; the renewal
// backs off while the refusals go on. It reports whether the request is
// worth one more try.
func (e *Endpoint) renewCredentials(op string, err error, gen uint64) bool {
	var be *Error
	if e.token == nil || gen == 0 || !errors.As(err, &be) || be.Status != http.StatusUnauthorized {
		return false
	}
	fresh, dropped := e.token.renew(gen)
	if dropped {
		e.opts.Logger.Warn("SignalR Service refused the Microsoft Entra ID token (401); getting a new token and temporary key",
			append(e.logAttrs(), "op", op)...)
		if e.key != nil && be.Op != opAccessKey {
			// Negotiations wait for the new key (up to KeyWait) rather
			// than sign with one the service may have forgotten.
			e.key.renewLatest()
		}
	}
	return fresh
}

// redactURLError drops the query from a *url.Error's URL.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if i := strings.IndexByte(ue.URL, '?'); i >= 0 {
			c := *ue
			c.URL = ue.URL[:i]
			if ue == err {
				return &c
			}
			return fmt.Errorf("%s %q: %w", c.Op, c.URL, c.Err)
		}
	}
	return err
}
