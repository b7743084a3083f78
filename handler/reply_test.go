package handler

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/signalr-entra/handler/bindings"
)

// TestItemFailureTextAgreesWithState checks that each failed item's text
// says what its state says: an item that never went out is not said to
// have waited for an answer, and only an unknown one may have been
// delivered.
func TestItemFailureTextAgreesWithState(t *testing.T) {
	const uri = "https://a.service.signalr.net"
	// Shaped as bindings builds them: the time ran out before the request
	// was written, or after it was.
	notWritten := &bindings.Error{Op: "send", Endpoint: uri, Message: "the time ran out before the request could be sent", Err: context.DeadlineExceeded, Outcome: bindings.NotSent}
	written := &bindings.Error{Op: "send", Endpoint: uri, Message: "no reply came from the service", Err: context.DeadlineExceeded, Outcome: bindings.Unknown}
	refused := &bindings.Error{Op: "send", Endpoint: uri, Status: http.StatusForbidden, Outcome: bindings.Refused}
	tests := []struct {
		name      string
		err       error
		state     string
		want      []string
		wantNever []string
	}{
		{"notSent, time ran out", notWritten, "notSent",
			[]string{"not sent", "safe to send again"}, []string{"did not answer", "may have been delivered"}},
		{"notSent, canceled before its turn", fmt.Errorf("%w: %w", errNotSent, context.Canceled), "notSent",
			[]string{"not sent: the request's time ran out before its turn"}, []string{"did not answer", "may have been delivered"}},
		{"unknown, time ran out", written, "unknown",
			[]string{"did not answer in time", "may have been delivered"}, []string{"not sent", "safe to send again"}},
		{"refused on one endpoint, not sent to the other", &bindings.EndpointsError{Op: "send", Results: []bindings.EndpointResult{{Endpoint: uri, Err: refused}, {Endpoint: "https://b.service.signalr.net", Err: notWritten}}}, "refused",
			[]string{"refused"}, []string{"did not answer", "may have been delivered", "safe to send again"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// As the messages and groups functions build it.
			_, msg := classify(tt.err)
			if errors.Is(tt.err, errNotSent) {
				msg = "not sent: the request's time ran out before its turn; it is safe to send again"
			}
			f := itemFailure(3, tt.err, msg)
			if f.Index != 3 || f.State != tt.state {
				t.Fatalf("index %d state %q, want 3 %q", f.Index, f.State, tt.state)
			}
			for _, w := range tt.want {
				if !strings.Contains(f.Error, w) {
					t.Errorf("error %q does not say %q", f.Error, w)
				}
			}
			for _, w := range tt.wantNever {
				if strings.Contains(f.Error, w) {
					t.Errorf("error %q says %q, which a %s item is not", f.Error, w, tt.state)
				}
			}
		})
	}
}
