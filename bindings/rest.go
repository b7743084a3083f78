package bindings

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

const (
	apiVersion = "2022-06-01"
	maxTries   = 3
	retryCap   = time.Minute
)

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
	kindWrite // membership changes and closing connections: safe to repeat
	kindSend  // a repeated send delivers the message twice
	kindHealth
)

// retryable says whether a reply may be retried. Sends are not retried on
// 500: the message may have gone out, and a duplicate is worse than a loss.
func retryable(k reqKind, status int) bool {
	switch {
	case k == kindSend:
		return status == http.StatusTooManyRequests || status == http.StatusBadGateway ||
			status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout
	case k == kindHealth:
		return false
	default:
		return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
	}
}

// shouldRetry says whether a failed try may be repeated: a reply as
// retryable allows, or a network failure of a request other than a send.
func shouldRetry(k reqKind, err error) bool {
	be, ok := err.(*Error)
	switch {
	case !ok:
		return false
	case be.transport:
		return k != kindSend && k != kindHealth
	default:
		return be.Status != 0 && retryable(k, be.Status)
	}
}

// do sends r, retrying as retryable allows (at most 3 tries, Retry-After
// honoured, never past ctx's deadline), and returns the status and body of
// the last reply, or an *Error. After a 401 to an Entra token it gets a new
// token and temporary key and tries once more (see renewCredentials).
func (e *Endpoint) do(ctx context.Context, r request) (int, []byte, error) {
	delay := e.opts.retryBase
	renewed := false
	for try := 1; ; try++ {
		status, body, err := e.once(ctx, r)
		if err == nil {
			return status, body, nil
		}
		if !renewed && ctx.Err() == nil && e.renewCredentials(r.op, err) {
			renewed = true
			try--
			continue
		}
		if try == maxTries || ctx.Err() != nil || !shouldRetry(r.kind, err) {
			return status, body, err
		}
		wait := max(delay, retryAfterOf(err))
		if d, ok := ctx.Deadline(); ok && time.Until(d) < wait {
			return status, body, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return status, body, err
		case <-t.C:
		}
		delay = min(2*delay, retryCap)
	}
}

// once sends r one time.
func (e *Endpoint) once(ctx context.Context, r request) (int, []byte, error) {
	q := r.query
	if q == nil {
		q = url.Values{}
	}
	if r.kind != kindAuthAPI && q.Get("api-version") == "" {
		q.Set("api-version", apiVersion)
	}
	target := e.serverBase + r.path
	if r.kind == kindAuthAPI {
		// The auth API's own bound, short of the request's: a hung call
		// fails and is retried in the background, not waited out.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, e.opts.FetchTimeout)
		defer cancel()
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, target+"?"+q.Encode(), body)
	if err != nil {
		return 0, nil, &Error{Op: r.op, Endpoint: e.uri, Message: "cannot build the request", Err: err}
	}
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	var tokenGen uint64
	if r.kind != kindHealth {
		auth, gen, err := e.authorization(ctx, target)
		if err != nil {
			return 0, nil, err
		}
		tokenGen = gen
		req.Header.Set("Authorization", auth)
	}
	resp, err := e.opts.HTTPClient.Do(req)
	if err != nil {
		return 0, nil, &Error{Op: r.op, Endpoint: e.uri, Message: "the service could not be reached; check the network path and " + e.uriSetting("serviceUri", true), Err: redactURLError(err), transport: true}
	}
	// Reading the body to its end lets the connection be reused.
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes))
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	switch {
	case err != nil:
		return resp.StatusCode, nil, &Error{Op: r.op, Endpoint: e.uri, Status: resp.StatusCode, Message: "the reply was cut short", Err: err}
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return resp.StatusCode, data, nil
	case resp.StatusCode == http.StatusNotFound && r.notFound && resp.Header.Get("x-ms-error-code") != "":
		return resp.StatusCode, data, nil
	}
	serr := e.statusError(r.op, r.kind, resp, data)
	serr.tokenGen = tokenGen
	return resp.StatusCode, data, serr
}

// authorization is the bearer of a request to target (a URL without query):
// the Entra token itself in Entra mode (with its generation, for renew),
// else a short-lived token signed with the access key whose audience is
// the request URL.
func (e *Endpoint) authorization(ctx context.Context, target string) (string, uint64, error) {
	if e.accessKey != nil {
		now := e.now()
		claims, err := json.Marshal(newTimeClaims(target, now, now.Add(restTokenLife)))
		if err != nil {
			return "", 0, fmt.Errorf("sign the REST token: %w", err)
		}
		tok, err := signToken(e.accessKey, e.kid, claims)
		if err != nil {
			return "", 0, fmt.Errorf("sign the REST token: %w", err)
		}
		return "Bearer " + tok, 0, nil
	}
	tok, gen, err := e.token.get(ctx, e.opts.KeyWait)
	if err != nil {
		return "", 0, e.waitError(err)
	}
	return "Bearer " + tok.Token, gen, nil
}

// renewCredentials answers a 401 to an Entra token: the service no longer
// takes the token (revoked, or the service restarted), and likely forgot
// the temporary key too, whose client tokens it would refuse alike. It
// drops both and fetches new ones, logged; the renewal backs off while the
// refusals go on. It reports whether the request is worth one more try.
func (e *Endpoint) renewCredentials(op string, err error) bool {
	var be *Error
	if e.token == nil || !errors.As(err, &be) || be.Status != http.StatusUnauthorized || be.tokenGen == 0 {
		return false
	}
	fresh, dropped := e.token.renew(be.tokenGen)
	if dropped {
		e.opts.Logger.Warn("SignalR Service refused the Microsoft Entra ID token (401); getting a new token and temporary key",
			"endpoint", e.uri, "setting", e.setting, "op", op)
		if e.key != nil && be.Op != opAccessKey {
			// Negotiations wait for the new key (up to SIGNALR_KEY_WAIT)
			// rather than sign with one the service may have forgotten.
			e.key.renewLatest()
		}
	}
	return fresh
}

// redactURLError drops the query from a *url.Error's URL.
func redactURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		if i := strings.IndexByte(ue.URL, '?'); i >= 0 {
			c := *ue
			c.URL = ue.URL[:i]
			return &c
		}
	}
	return err
}
