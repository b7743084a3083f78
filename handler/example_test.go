package handler_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"

	"github.com/signalr-entra/handler/bindings"
	"github.com/signalr-entra/handler/handler"
)

// service stands in for *bindings.Client.
type service struct{}

func (service) ConnectionInfo(ctx context.Context, hub, userID string, claims []bindings.Claim) (*bindings.ConnectionInfo, error) {
	return &bindings.ConnectionInfo{URL: "https://contoso.service.signalr.net/client/?hub=" + hub, AccessToken: "eyJ..."}, nil
}
func (service) SendRouted(ctx context.Context, hub string, m bindings.Message) (bindings.Route, error) {
	return bindings.Route{Took: []string{"https://contoso.service.signalr.net"}}, nil
}
func (service) ApplyRouted(ctx context.Context, hub string, a bindings.GroupAction) (bindings.Route, error) {
	return bindings.Route{Took: []string{"https://contoso.service.signalr.net"}}, nil
}

func ExampleNew() {
	h, err := handler.New(service{}, &handler.Options{
		Hubs:   []string{"chat"},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		panic(err)
	}
	// Payload mode: the Functions host posts an invocation of negotiate.
	payload := `{"Data":{"req":{"Url":"https://contoso.azurewebsites.net/api/negotiate","Method":"POST",
		"Headers":{"X-MS-CLIENT-PRINCIPAL-ID":["ada"]}}},"Metadata":{}}`
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/negotiate", strings.NewReader(payload)))
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"))

	// Forwarded mode and standalone: the caller's own request.
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/api/messages", strings.NewReader(`{"target":"newMessage","arguments":["hi"]}`)))
	fmt.Println(rec.Code, rec.Body)
	// Output:
	// 200 application/json; charset=utf-8
	// 202 {"accepted":[0],"routes":[{"index":0,"took":["https://contoso.service.signalr.net"],"failed":[],"skipped":[]}]}
}
