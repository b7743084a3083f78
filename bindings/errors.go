package bindings

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Error is a failure of one operation on one endpoint, with what the user
// can do about it. Use errors.As to branch on Status or Code.
type Error struct {
	// Op names the operation, such as "get the temporary access key" or
	// "send to group".
	Op string
	// Endpoint is the service URI of the endpoint.
	Endpoint string
	// Status is the HTTP status the service answered, 0 when none.
	Status int
	// Code is the service's x-ms-error-code header, when sent.
	Code string
	// RequestID is the service's request id header, for support cases.
	RequestID string
	// Message says what went wrong and how to fix it.
	Message string
	// Err is the cause, when there is one.
	Err error
	// Outcome says whether the operation may have taken effect.
	Outcome Outcome
	// RetryAfter is the wait the service asked for (Retry-After), if any.
	RetryAfter time.Duration
}

// Outcome says what became of an operation that failed: whether the
// service may have acted on it, so whether sending it again is safe.
type Outcome string

const (
	// NotSent: the request never reached the service (it was never
	// written, no token could be had, no endpoint was online, or its turn
	// never came). Sending it again is safe.
	NotSent Outcome = "notSent"
	// Refused: the service answered and did not act on it (such as a
	// missing role, an unknown connection, or throttling). Sending it
	// again delivers it once at most, once the cause is gone.
	Refused Outcome = "refused"
	// Unknown: the request was sent and no clear answer came back (a
	// gateway's 502, 503 or 504, a 500, a reset or a timeout after it was
	// written): it may have been delivered. Sending it again may deliver
	// it twice.
	Unknown Outcome = "unknown"
	// Partial: with several endpoints, some took it and the others did
	// not (none may have taken it without saying so): Route.Took names
	// those that did. Sending it again to every endpoint delivers it twice
	// through those; send it again only to the others.
	Partial Outcome = "partial"
)

// OutcomeOf says what became of the operation that failed with err: the
// Outcome of the *Error it holds; with several endpoints (*EndpointsError),
// Unknown when any may have acted, else Partial when some took it, else
// NotSent when none was sent, else Refused. An *InputError is Refused. An error that holds none of these
// came before any request (ErrNoOnlineEndpoint, an invalid hub, a deadline
// that passed first): NotSent. OutcomeOf(nil) is "".
func OutcomeOf(err error) Outcome {
	if err == nil {
		return ""
	}
	var ee *EndpointsError
	if errors.As(err, &ee) {
		out, took := Outcome(""), false
		for _, r := range ee.Results {
			switch o := OutcomeOf(r.Err); {
			case o == Unknown:
				return Unknown
			case r.Err == nil:
				took = true
			case o == Refused || out == "":
				out = o
			}
		}
		switch {
		case took:
			return Partial
		case out == "":
			return NotSent
		}
		return out
	}
	var be *Error
	switch {
	case errors.As(err, &be) && be.Outcome != "":
		return be.Outcome
	case be != nil && be.Status != 0:
		return statusOutcome(be.Status)
	case be != nil:
		return Unknown
	case errors.As(err, new(*InputError)):
		return Refused
	}
	return NotSent
}

// statusOutcome is what a failure status says of a request: a refusal, or
// an answer that may come after the service acted (a timeout, a gateway's
// answer, the service's own failure). A 429 is a refusal when the service
// itself sent it (see serviceAnswered).
func statusOutcome(status int) Outcome {
	switch {
	case status == http.StatusRequestTimeout, status == http.StatusTooManyRequests, status >= 500:
		return Unknown
	}
	return Refused
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	if e.Endpoint != "" && !strings.Contains(e.Op, e.Endpoint) {
		b.WriteString(" at ")
		b.WriteString(e.Endpoint)
	}
	if e.Status != 0 {
		fmt.Fprintf(&b, " failed with %d %s", e.Status, http.StatusText(e.Status))
	} else {
		b.WriteString(" failed")
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Code != "" || e.RequestID != "" {
		b.WriteString(" (")
		if e.Code != "" {
			b.WriteString("error code " + e.Code)
		}
		if e.Code != "" && e.RequestID != "" {
			b.WriteString(", ")
		}
		if e.RequestID != "" {
			b.WriteString("request id " + e.RequestID)
		}
		b.WriteString(")")
	}
	if e.Err != nil {
		if strings.HasSuffix(e.Message, ".") {
			b.WriteString(" Cause: ")
		} else {
			b.WriteString(": ")
		}
		// errors.Join puts causes on lines of their own; a log line wants one.
		b.WriteString(strings.ReplaceAll(e.Err.Error(), "\n", "; "))
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// InputError reports input that breaks one of the service's rules or
// limits, found before any request was made: the caller's to fix.
type InputError struct {
	Message string
}

func (e *InputError) Error() string { return e.Message }

// EndpointsError reports an operation sent to several endpoints of which at
// least one failed. errors.As finds each endpoint's *Error through it.
type EndpointsError struct {
	// Op names the operation, such as "send".
	Op string
	// Results holds one result per endpoint the operation went to.
	Results []EndpointResult
	// Skipped lists the service URIs of the endpoints left out because
	// their health check failed.
	Skipped []string
}

// EndpointResult is the outcome on one endpoint; Err is nil on success.
type EndpointResult struct {
	Endpoint string // the service URI
	Err      error
}

func (e *EndpointsError) Error() string {
	var failed []string
	for _, r := range e.Results {
		if r.Err != nil {
			failed = append(failed, r.Err.Error())
		}
	}
	msg := fmt.Sprintf("%s failed on %d of %d endpoints: %s", e.Op, len(failed), len(e.Results), strings.Join(failed, "; "))
	if len(e.Skipped) > 0 {
		msg += fmt.Sprintf("; skipped as offline: %s", strings.Join(e.Skipped, ", "))
	}
	return msg
}

func (e *EndpointsError) Unwrap() []error {
	var errs []error
	for _, r := range e.Results {
		if r.Err != nil {
			errs = append(errs, r.Err)
		}
	}
	return errs
}

const assignHint = " Assign it on that resource (or on its resource group or subscription); role assignments take up to 30 minutes to apply. A network rule of the resource (firewall, private endpoint) can also answer 403."

// statusError describes a failed reply (with its body) for the user: which
// role is missing, or which endpoint setting to check, and whether the
// service may have acted on the request.
func (e *Endpoint) statusError(op string, k reqKind, resp *http.Response, body []byte) *Error {
	err := &Error{
		Op:         op,
		Endpoint:   e.uri,
		Status:     resp.StatusCode,
		Code:       resp.Header.Get("x-ms-error-code"),
		RequestID:  requestID(resp.Header),
		RetryAfter: retryAfter(resp.Header, e.now()),
		Outcome:    Refused,
	}
	who := e.identity
	switch s := resp.StatusCode; {
	case s == http.StatusUnauthorized && e.accessKey != nil:
		err.Message = fmt.Sprintf("%s refused a token signed with the access key of %s: %s", e.uri, e.label, e.accessKeyRefusal(body))
	case s == http.StatusUnauthorized && entraRefusal(resp, body) == "tenant":
		err.Err = ErrOtherTenant
		err.Message = fmt.Sprintf("%s refused the Microsoft Entra ID token of %s: the service says it comes from another tenant than the resource's.", e.uri, who)
		if fix := e.explainFailure(err); fix != "" {
			err.Message += fix
		} else {
			err.Message += fmt.Sprintf(" Set the credential's tenant to the resource's tenant (for a multitenant app, one it is provisioned in) and, in a sovereign cloud, that cloud's authority host%s", e.checkHint())
		}
	case s == http.StatusUnauthorized:
		err.Message = fmt.Sprintf("%s refused the Microsoft Entra ID token of %s, and its reply does not say why (a revoked, expired or not yet valid token, or one from another tenant or cloud, is refused alike)%s", e.uri, who, e.checkHint())
	case s == http.StatusForbidden && e.accessKey != nil:
		err.Message = fmt.Sprintf("%s refused the access key of %s to %s, though an access key needs no role: a network rule of the resource (firewall, private endpoint, public access disabled) blocks this app. Check the resource's Networking settings.", e.uri, e.label, op)
	case s == http.StatusForbidden && k == kindAuthAPI:
		err.Message = fmt.Sprintf("%s lacks the SignalR App Server or SignalR Service Owner role on %s, needed to get the temporary key that signs client tokens.%s", who, e.uri, assignHint)
		if e.opts.Negotiate == NegotiateLocal {
			// The other way out, which local mode alone rules out.
			err.Message += fmt.Sprintf(" Or set %s to let the service sign client tokens, with the SignalR REST API Owner role.", e.opts.negotiateAuto())
		}
	case s == http.StatusForbidden && k == kindGenerateToken:
		err.Message = fmt.Sprintf("%s lacks the SignalR REST API Owner or SignalR Service Owner role on %s, needed for the service to sign client tokens.%s", who, e.uri, assignHint)
	case s == http.StatusForbidden && k == kindRead:
		err.Message = fmt.Sprintf("%s lacks the SignalR REST API Reader, SignalR REST API Owner or SignalR Service Owner role on %s, needed to %s.%s", who, e.uri, op, assignHint)
	case s == http.StatusForbidden:
		err.Message = fmt.Sprintf("%s lacks the SignalR REST API Owner or SignalR Service Owner role on %s, needed to %s.%s", who, e.uri, op, assignHint)
	case s >= 300 && s < 400:
		err.Message = fmt.Sprintf("the service answered with a redirect to %q, which is not followed so that no token goes elsewhere: set the service URI (or server endpoint) of %s to the address the service answers at", redirectTarget(resp), e.label)
		err.Err = errRedirect
	case s == http.StatusNotFound && err.Code != "":
		err.Message = "the service reports that the named hub, group, user or connection does not exist"
	case s == http.StatusNotFound:
		err.Message = "no SignalR Service answers at this address: check the service URI and server endpoint of " + e.label
	case s == http.StatusTooManyRequests && serviceAnswered(resp):
		err.Message = "the service throttles this resource and did not take the request; retry later or scale the resource up"
	case s == http.StatusTooManyRequests:
		err.Outcome = Unknown
		err.Message = "a gateway or proxy on the way answered 429 without the service's error code; the service may have taken the request"
	case s == http.StatusRequestTimeout || s == http.StatusBadGateway || s == http.StatusServiceUnavailable || s == http.StatusGatewayTimeout:
		err.Outcome = Unknown
		err.Message = fmt.Sprintf("the service or a gateway on the way answered %d; the service may have taken the request before the answer was lost", s)
	case s >= 500:
		// The service answers 500 for its own timeouts too (Management
		// SDK, DependencyInjectionExtensions.cs): it may have acted.
		err.Outcome = Unknown
		err.Message = "the service failed; it may have taken the request"
	default:
		err.Message = "unexpected reply"
	}
	return err
}

// accessKeyRefusal says why the service refused the access key, as far as
// its reply tells: the service answers a wrong key with an invalid
// signature, and a resource with local authentication disabled, which has
// deleted its keys, with a key it does not have. The reply is read, never
// quoted.
func (e *Endpoint) accessKeyRefusal(body []byte) string {
	var reply struct{ Message string }
	_ = json.Unmarshal(body, &reply)
	text := strings.ToLower(reply.Message)
	copyTo := "the client's connection string"
	if e.labeled {
		copyTo = e.label
	}
	switch {
	case strings.Contains(text, "disabled"):
		return "local authentication is disabled on the resource, which deletes its access keys. Switch to Microsoft Entra ID: a credential in place of the access key of " + e.label + ", and a SignalR role for its identity."
	case strings.Contains(text, "signature is invalid"):
		return fmt.Sprintf("the key is not one of the resource's current keys (regenerated, or copied wrong). Copy the current connection string from the resource's Keys page into %s, or better, switch to Microsoft Entra ID.", copyTo)
	}
	return fmt.Sprintf("the key is wrong (regenerated, or copied wrong), or local authentication is disabled on the resource, which deletes its access keys. Check the resource's Keys page: copy the current connection string into %s, or switch to Microsoft Entra ID.", copyTo)
}

// checkHint points at the configuration of the credential, when the
// endpoint's label says where it came from.
func (e *Endpoint) checkHint() string {
	if !e.labeled {
		return "."
	}
	return "; the credential is configured in " + e.label + "."
}

// entraRefusal says what the service's 401 tells of an Entra token it
// refused: "tenant" when its reply (the WWW-Authenticate error_description
// of RFC 6750, or the ErrorDetail message) names the tenant or issuer, else
// "". The reply is read, never quoted.
func entraRefusal(resp *http.Response, body []byte) string {
	text := strings.ToLower(resp.Header.Get("WWW-Authenticate"))
	var detail struct{ Message string }
	if json.Unmarshal(body, &detail) == nil {
		text += " " + strings.ToLower(detail.Message)
	}
	if strings.Contains(text, "tenant") || strings.Contains(text, "issuer") {
		return "tenant"
	}
	return ""
}

// ErrOtherTenant marks a 401 whose reply says the Microsoft Entra ID token
// comes from another tenant than the resource's: the credential's tenant
// (or, in a sovereign cloud, its authority host) is the one to change.
// EndpointConfig.Explain is asked what to do about it.
var ErrOtherTenant = errors.New("the token comes from another tenant than the resource's")

// errRedirect marks a reply that redirected elsewhere.
var errRedirect = errors.New("redirect refused")

// redirectTarget is the Location of a redirect without its query.
func redirectTarget(resp *http.Response) string {
	u, err := resp.Location()
	if err != nil {
		return ""
	}
	c := *u
	c.RawQuery, c.Fragment, c.User = "", "", nil
	return c.String()
}

// requestID returns the id the service gave the request, for support.
func requestID(h http.Header) string {
	for _, k := range []string{"x-ms-request-id", "x-ms-client-request-id", "x-request-id"} {
		if v := h.Get(k); v != "" {
			return v
		}
	}
	return ""
}

// maxRetryAfter bounds the wait a reply may ask for: a larger one would
// wrap a time.Duration around.
const maxRetryAfter = 24 * time.Hour

// retryAfter reads the wait a reply asks for: retry-after-ms (Azure's,
// in milliseconds), else Retry-After as seconds or as an HTTP date; at
// most maxRetryAfter.
func retryAfter(h http.Header, now time.Time) time.Duration {
	if d, ok := waitOf(h.Get("retry-after-ms"), time.Millisecond); ok {
		return d
	}
	v := h.Get("Retry-After")
	if d, ok := waitOf(v, time.Second); ok {
		return d
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), maxRetryAfter)
	}
	return 0
}

// waitOf reads a positive count of unit, at most maxRetryAfter.
func waitOf(v string, unit time.Duration) (time.Duration, bool) {
	n, err := strconv.ParseUint(v, 10, 64)
	switch {
	case err != nil && !errors.Is(err, strconv.ErrRange), n == 0:
		return 0, false
	case err != nil, n > uint64(maxRetryAfter/unit):
		return maxRetryAfter, true
	}
	return time.Duration(n) * unit, true
}
