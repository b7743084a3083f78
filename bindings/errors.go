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

	retryAfter time.Duration
	transport  bool   // no reply came
	tokenGen   uint64 // of the Entra token the request carried
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	if e.Endpoint != "" {
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
// role is missing, which tenant is wrong, or which endpoint setting to check.
func (e *Endpoint) statusError(op string, k reqKind, resp *http.Response, body []byte) *Error {
	err := &Error{
		Op:         op,
		Endpoint:   e.uri,
		Status:     resp.StatusCode,
		Code:       resp.Header.Get("x-ms-error-code"),
		RequestID:  requestID(resp.Header),
		retryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), e.now()),
	}
	who := e.auth.Identity()
	switch s := resp.StatusCode; {
	case s == http.StatusUnauthorized && e.accessKey != nil:
		err.Message = fmt.Sprintf("%s refused a token signed with the access key of %s (%s): %s", e.uri, e.label(), who, e.accessKeyRefusal(body))
	case s == http.StatusUnauthorized:
		err.Message = fmt.Sprintf("%s did not accept the Entra ID token of %s: the token is from the wrong tenant or authority host (tenant %s, authority host %s, as configured in %s). %s to the tenant of the SignalR resource (for a multitenant app, the tenant it is provisioned in) and, in a sovereign cloud, that cloud's authority host.", e.uri, who, orDefault(e.auth.TenantID), orDefault(e.auth.AuthorityHost), e.configuredIn(), e.setTenant())
	case s == http.StatusForbidden && e.accessKey != nil:
		err.Message = fmt.Sprintf("%s refused the access key of %s to %s, though an access key needs no role: a network rule of the resource (firewall, private endpoint, public access disabled) blocks this app. Check the resource's Networking settings.", e.uri, e.label(), op)
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
		err.Message = fmt.Sprintf("the service answered with a redirect to %q, which is not followed so that no token goes elsewhere: set %s to the address the service answers at", redirectTarget(resp), e.uriSetting("serviceUri (or serverEndpoint)", true))
		err.Err = errRedirect
	case s == http.StatusNotFound && err.Code != "":
		err.Message = "the service reports that the named hub, group, user or connection does not exist"
	case s == http.StatusNotFound:
		err.Message = "no SignalR Service answers at this address: check " + e.uriSetting("serviceUri and serverEndpoint", true)
	case s == http.StatusTooManyRequests:
		err.Message = "the service throttles this resource; retry later or scale the resource up"
	case s >= 500:
		err.Message = "the service failed; retry later"
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
	copyTo := e.setting
	if copyTo == "" {
		copyTo = "the client's connection string"
	}
	switch {
	case strings.Contains(text, "disabled"):
		return "local authentication is disabled on the resource, which deletes its access keys. Switch to Microsoft Entra ID: " + e.switchToEntra() + " and assign the identity a SignalR role."
	case strings.Contains(text, "signature is invalid"):
		return fmt.Sprintf("the key is not one of the resource's current keys (regenerated, or copied wrong). Copy the current connection string from the resource's Keys page into %s, or better, switch to Microsoft Entra ID.", copyTo)
	}
	return fmt.Sprintf("the key is wrong (regenerated, or copied wrong), or local authentication is disabled on the resource, which deletes its access keys. Check the resource's Keys page: copy the current connection string into %s, or switch to Microsoft Entra ID.", copyTo)
}

// switchToEntra says how to move an endpoint from its access key to
// Microsoft Entra ID.
func (e *Endpoint) switchToEntra() string {
	if e.setting == "" {
		return "create the client with NewFromCredential and a credential instead of the access key"
	}
	return "replace the AccessKey with serviceUri and credential settings"
}

// configuredIn names where the credential was configured.
func (e *Endpoint) configuredIn() string {
	if e.setting == "" {
		return "the credential"
	}
	return e.setting
}

// setTenant says how to choose the tenant a credential asks.
func (e *Endpoint) setTenant() string {
	if e.setting == "" {
		return "Set the credential's tenant (such as azidentity's TenantID option)"
	}
	return "Set tenantId"
}

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

func orDefault(s string) string {
	if s == "" {
		return "default"
	}
	return s
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

// parseRetryAfter reads Retry-After as seconds or as an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
