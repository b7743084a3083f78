package bindings_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/signalr-entra/handler/bindings"
)

// Negotiate in access-key mode: no network, the token is signed locally.
func ExampleClient_ConnectionInfo() {
	u, _ := url.Parse("https://contoso.service.signalr.net")
	c, err := bindings.New([]bindings.EndpointConfig{{
		Label:      "AzureSignalRConnectionString",
		ServiceURI: u,
		AccessKey:  "an-access-key",
	}}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	info, err := c.ConnectionInfo(context.Background(), "Chat", "ada", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(info.URL)
	// Output: https://contoso.service.signalr.net/client/?hub=chat
}

// Decode what a function returns for its SignalR output binding.
func ExampleDecodeMessages() {
	ms, err := bindings.DecodeMessages([]byte(`[
		{"target": "newMessage", "arguments": ["hello"], "groupName": "room1"},
		{"target": "newMessage", "arguments": {"text": "hello"}}
	]`), 100)
	fmt.Println(len(ms), err)
	ms, _ = bindings.DecodeMessages([]byte(`{"target": "newMessage", "arguments": ["hello"], "userId": "ada"}`), 100)
	fmt.Println(ms[0].UserID, ms[0].Target, string(ms[0].Arguments))
	// Output:
	// 0 message 1: arguments is "{\"text\": \"hello\"}", not an array: put the arguments in [ ]
	// ada newMessage ["hello"]
}

// Group actions accept the action in any case.
func ExampleDecodeGroupActions() {
	as, err := bindings.DecodeGroupActions([]byte(`{"action": "Add", "userId": "ada", "groupName": "room1"}`), 100)
	fmt.Println(as[0].Action, as[0].UserID, as[0].GroupName, err)
	// Output: add ada room1 <nil>
}

// exampleService stands in for SignalR Service on loopback: it prints each
// request and answers 403 to sends to the group "admins".
func exampleService() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Println(strings.TrimSpace(fmt.Sprintln(r.Method, r.URL.Path, r.URL.Query().Get("api-version"), string(body))))
		switch {
		case strings.Contains(r.URL.Path, "/groups/admins/"):
			w.Header().Set("x-ms-error-code", "Error.Forbidden")
			w.WriteHeader(http.StatusForbidden)
		case r.Method == http.MethodPost:
			w.WriteHeader(http.StatusAccepted)
		}
	}))
}

func exampleClient(serviceURI string) *bindings.Client {
	u, _ := url.Parse(serviceURI)
	c, err := bindings.New([]bindings.EndpointConfig{{
		Label: "AzureSignalRConnectionString", ServiceURI: u,
		AccessKey: "an-access-key",
	}}, nil)
	if err != nil {
		panic(err)
	}
	return c
}

// Send a message to a group; the call returns once the service accepted it.
// A refusal comes as *bindings.Error with the status and the service's code.
func ExampleClient_Send() {
	srv := exampleService()
	defer srv.Close()
	c := exampleClient(srv.URL)
	defer c.Close()

	ms, _ := bindings.DecodeMessages([]byte(`{"target": "newMessage", "arguments": ["hi"], "groupName": "room1"}`), 100)
	fmt.Println(c.Send(context.Background(), "Chat", ms[0]))

	err := c.Send(context.Background(), "chat", bindings.Message{Target: "newMessage", GroupName: "admins"})
	var be *bindings.Error
	if errors.As(err, &be) {
		fmt.Println(be.Status, be.Code)
	}
	// Output:
	// POST /api/hubs/chat/groups/room1/:send 2022-06-01 {"target":"newMessage","arguments":["hi"]}
	// <nil>
	// POST /api/hubs/chat/groups/admins/:send 2022-06-01 {"target":"newMessage","arguments":[]}
	// 403 Error.Forbidden
}

// Add a user to a group, then remove the user from every group.
func ExampleClient_Apply() {
	srv := exampleService()
	defer srv.Close()
	c := exampleClient(srv.URL)
	defer c.Close()

	as, _ := bindings.DecodeGroupActions([]byte(`[
		{"action": "add", "userId": "ada", "groupName": "room1"},
		{"action": "removeAll", "userId": "ada"}
	]`), 100)
	for _, a := range as {
		fmt.Println(c.Apply(context.Background(), "chat", a))
	}
	// Output:
	// PUT /api/hubs/chat/users/ada/groups/room1 2022-06-01
	// <nil>
	// DELETE /api/hubs/chat/users/ada/groups 2022-06-01
	// <nil>
}
