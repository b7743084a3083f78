package handler_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/signalr-entra/handler/bindings"
	"github.com/signalr-entra/handler/handler"
	"github.com/signalr-entra/handler/settings"
	"github.com/signalr-entra/handler/upstream"
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

func ExampleHandler_HandleEvent() {
	const accessKey = "the resource's access key"
	h, err := handler.New(service{}, &handler.Options{
		Hubs:     []string{"chat"},
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		Upstream: upstream.Options{AccessKeys: []settings.Secret{accessKey}},
	})
	if err != nil {
		panic(err)
	}
	h.HandleEvent("chat", "add", func(ctx context.Context, e *upstream.Event) (any, error) {
		var a, b int
		if err := errors.Join(e.Argument(0, &a), e.Argument(1, &b)); err != nil {
			return nil, err
		}
		return a + b, nil
	})

	// A client awaits connection.invoke("add", 1, 2): the service posts the
	// invocation upstream, signed with its access key.
	req := httptest.NewRequest("POST", "/api/upstream/chat/messages/add",
		strings.NewReader(`{"type":1,"invocationId":"0","target":"add","arguments":[1,2]}`))
	mac := hmac.New(sha256.New, []byte(accessKey))
	mac.Write([]byte("conn-1"))
	req.Header = http.Header{
		"Content-Type":         {"application/json"},
		"X-Asrs-Connection-Id": {"conn-1"},
		"X-Asrs-Hub":           {"chat"},
		"X-Asrs-Category":      {"messages"},
		"X-Asrs-Event":         {"add"},
		"X-Asrs-Signature":     {"sha256=" + hex.EncodeToString(mac.Sum(nil))},
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	// The service passes the completion on to the client as it is.
	fmt.Printf("%d %q\n", rec.Code, rec.Body)
	// Output:
	// 200 "{\"type\":3,\"invocationId\":\"0\",\"result\":3}\x1e"
}
