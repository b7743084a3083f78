package handler

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/signalr-entra/handler/bindings"
)

// classify maps a Service failure to the status and short message callers
// get. The detail, which may name roles and endpoints, goes to the log only.
func classify(err error) (status int, msg string) {
	const see = "; the function log has the details under this correlation id"
	var be *bindings.Error
	var ie *bindings.InputError
	switch {
	case errors.As(err, &ie):
		// Found before any request: the caller's input breaks a limit.
		return http.StatusBadRequest, ie.Message
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, "SignalR Service did not answer in time" + see
	case errors.Is(err, context.Canceled):
		return http.StatusServiceUnavailable, "the request was canceled before SignalR Service answered"
	case errors.Is(err, bindings.ErrNoOnlineEndpoint):
		return http.StatusServiceUnavailable, "no SignalR Service endpoint is online; nothing was sent, retry later" + see
	case !errors.As(err, &be):
		return http.StatusBadGateway, "the request to SignalR Service failed" + see
	}
	switch s := be.Status; {
	case s == http.StatusNotFound && be.Code == "":
		// Without x-ms-error-code nothing the caller named is missing: no
		// SignalR Service answers at the configured endpoint, the app's to fix.
		return http.StatusBadGateway, "SignalR Service was not found at the configured endpoint" + see
	case s == http.StatusBadRequest, s == http.StatusNotFound, s == http.StatusRequestEntityTooLarge:
		// The caller's input (a name, a connection) was refused: theirs to fix.
		return s, fmt.Sprintf("SignalR Service answered %d %s", s, http.StatusText(s)) + see
	case s == http.StatusForbidden:
		return http.StatusBadGateway, "SignalR Service refused the app (403): its identity lacks a role on the resource, or a network rule blocks it" + see
	case s == http.StatusUnauthorized:
		return http.StatusBadGateway, "SignalR Service did not accept the app's credentials (401)" + see
	case s == http.StatusTooManyRequests, s == http.StatusServiceUnavailable:
		return http.StatusServiceUnavailable, fmt.Sprintf("SignalR Service is busy (%d); retry later", s)
	case s == http.StatusRequestTimeout, s == http.StatusGatewayTimeout:
		return http.StatusGatewayTimeout, fmt.Sprintf("SignalR Service did not answer in time (%d)", s) + see
	case s == 0:
		return http.StatusBadGateway, "could not reach SignalR Service or get a token for it" + see
	default:
		return http.StatusBadGateway, fmt.Sprintf("SignalR Service answered %d", s) + see
	}
}
