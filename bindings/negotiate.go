package bindings

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// generateTokenVersion is the first API version with :generateToken.
const generateTokenVersion = "2023-07-01"

// ConnectionInfo returns where a client of the hub connects on this endpoint
// and the token it shows there, for the user (when userID is not empty)
// with claims. In Entra mode the token is signed as Options.Negotiate says.
// It answers within Options.KeyWait, whatever the service and Entra ID do.
func (e *Endpoint) ConnectionInfo(ctx context.Context, hub, userID string, claims []Claim) (*ConnectionInfo, error) {
	if err := ValidateHub(hub); err != nil {
		return nil, err
	}
	if userID != "" {
		if err := checkText("user id", userID); err != nil {
			return nil, err
		}
	}
	// The answer is due within KeyWait, but a context with that deadline
	// is made only where the service is asked to sign: a warm key signs
	// without waiting, and a cold one is awaited for KeyWait at most.
	deadline := time.Now().Add(e.opts.KeyWait)
	ph := prefixedHub(e.opts.Application, hub)
	info := &ConnectionInfo{URL: e.clientBase + "/client/?hub=" + ph}
	now := e.now()
	exp := now.Add(e.opts.TokenLifetime)
	var err error
	switch {
	case e.accessKey != nil:
		info.AccessToken, err = e.signClient(ph, userID, claims, e.accessKey, e.kid, now, exp)
	case e.opts.Negotiate == NegotiateService:
		info.AccessToken, err = e.serviceToken(ctx, deadline, hub, userID, claims)
	default:
		info.AccessToken, err = e.localToken(ctx, deadline, ph, hub, userID, claims, now, exp)
	}
	if err != nil {
		return nil, err
	}
	return info, nil
}

// localToken signs with the temporary key; in auto mode a 403 from the auth
// API turns to the service signing instead.
func (e *Endpoint) localToken(ctx context.Context, deadline time.Time, ph, hub, userID string, claims []Claim, now, exp time.Time) (string, error) {
	k, _, err := e.key.get(ctx, e.opts.KeyWait)
	if err == nil {
		// A token must not outlive the key that signed it by much: the
		// service forgets the key 90 minutes after issuing it.
		if end := k.issuedAt.Add(keyLife); end.Before(exp) {
			exp = end
		}
		return e.signClient(ph, userID, claims, k.secret, k.id, now, exp)
	}
	var keyErr *Error
	if e.opts.Negotiate != NegotiateAuto || !errors.As(err, &keyErr) || keyErr.Status != http.StatusForbidden {
		return "", e.waitError(err)
	}
	e.logOnce("negotiate", "SignalR auth API refuses the identity; the service signs client tokens instead ("+e.opts.negotiateAuto()+")",
		"reason", keyErr.Message)
	tok, err := e.serviceToken(ctx, deadline, hub, userID, claims)
	var genErr *Error
	if errors.As(err, &genErr) && genErr.Status == http.StatusForbidden {
		return "", &Error{
			Op:        "sign a client token",
			Endpoint:  e.uri,
			Status:    http.StatusForbidden,
			Code:      genErr.Code,
			RequestID: genErr.RequestID,
			Message: fmt.Sprintf("%s may neither get the temporary key nor ask the service to sign. Assign it, on %s, the SignalR App Server or SignalR Service Owner role (to sign locally) or the SignalR REST API Owner role (for tokens signed by the service).%s",
				e.identity, e.uri, assignHint),
			Err:     errors.Join(keyErr, genErr),
			Outcome: Refused,
		}
	}
	return tok, err
}

// serviceToken asks the service to sign, answering by the deadline; the API
// takes no claims but the user id, so other claims are dropped (logged once).
func (e *Endpoint) serviceToken(ctx context.Context, deadline time.Time, hub, userID string, claims []Claim) (string, error) {
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	if len(claims) > 0 {
		e.logOnce("claims", "client tokens signed by the service carry the user id only; other claims are dropped (grant SignalR App Server to sign locally with claims)",
			"dropped", len(claims))
	}
	tok, err := e.GenerateToken(ctx, hub, userID)
	var be *Error
	if err != nil && ctx.Err() == context.DeadlineExceeded && errors.As(err, &be) && be.Op == opGenerateToken && be.Status == 0 {
		// Cut at the wait's own bound, not the caller's. A token request
		// changes nothing on the service, so that no answer came is all
		// there is to say.
		return "", &Error{
			Op:       opGenerateToken,
			Endpoint: e.uri,
			Message: fmt.Sprintf("the service signed no client token within %s (%s); asking for a token changes nothing on the service, so it is safe to retry. Check the network path to %s",
				e.opts.KeyWait, e.opts.name("KeyWait"), e.uri),
			Err:     be.Err,
			Outcome: be.Outcome,
		}
	}
	return tok, err
}

// opGenerateToken names the service's signing in errors.
const opGenerateToken = "generate a client token"

// GenerateToken asks the service to sign a client token for the hub and
// user (POST :generateToken, API version 2023-07-01), valid for
// Options.TokenLifetime rounded up to whole minutes.
func (e *Endpoint) GenerateToken(ctx context.Context, hub, userID string) (string, error) {
	const op = opGenerateToken
	if err := ValidateHub(hub); err != nil {
		return "", err
	}
	if e.cred == nil {
		return "", fmt.Errorf("%s: %s uses an access key; tokens are signed locally", op, e.label)
	}
	q := url.Values{"api-version": {generateTokenVersion}}
	if userID != "" {
		q.Set("userId", userID)
	}
	q.Set("minutesToExpire", strconv.FormatInt(int64((e.opts.TokenLifetime+time.Minute-1)/time.Minute), 10))
	// This API version has no application parameter: the application goes
	// into the hub name, so that the token's audience matches the URL.
	path := "/api/hubs/" + url.PathEscape(prefixedHub(e.opts.Application, hub)) + "/:generateToken"
	_, body, err := e.do(ctx, request{op: op, kind: kindGenerateToken, method: http.MethodPost, path: path, query: q})
	e.logChange("generateToken", err)
	if err != nil {
		return "", e.waitError(err)
	}
	var reply struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(body, &reply); err != nil || reply.Token == "" {
		return "", &Error{Op: op, Endpoint: e.uri, Status: http.StatusOK, Message: `the reply is not JSON with a "token"`, Err: err, Outcome: Refused}
	}
	return reply.Token, nil
}

// signClient signs a client token for the prefixed hub ph.
func (e *Endpoint) signClient(ph, userID string, claims []Claim, key []byte, kid string, now, exp time.Time) (string, error) {
	var payloadBuf [1024]byte
	payload, err := e.appendClientClaims(payloadBuf[:0], ph, userID, claims, now, exp)
	if err != nil {
		return "", err
	}
	tok := signToken(key, kid, payload)
	if len(tok) > maxTokenLen {
		claimsFrom := "the claims passed to ConnectionInfo"
		if n := e.opts.OptionNames["ClaimTypes"]; n != "" {
			claimsFrom = n
		}
		return "", tokenTooLong(len(tok), len(claims), claimsFrom)
	}
	return tok, nil
}
