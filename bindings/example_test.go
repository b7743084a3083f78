package bindings_test

import (
	"context"
	"fmt"
	"net/url"

	"github.com/signalr-entra/handler/bindings"
	"github.com/signalr-entra/handler/settings"
)

// Negotiate in access-key mode: no network, the token is signed locally.
func ExampleClient_ConnectionInfo() {
	u, _ := url.Parse("https://contoso.service.signalr.net")
	c, err := bindings.New([]settings.Endpoint{{
		Setting:    "AzureSignalRConnectionString",
		ServiceURI: u,
		AccessKey:  "an-access-key",
		Auth:       settings.Auth{Kind: "AccessKey"},
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
	]`))
	fmt.Println(len(ms), err)
	ms, _ = bindings.DecodeMessages([]byte(`{"target": "newMessage", "arguments": ["hello"], "userId": "ada"}`))
	fmt.Println(ms[0].UserID, ms[0].Target, string(ms[0].Arguments[0]))
	// Output:
	// 0 message 1: arguments is "{\"text\": \"hello\"}", not an array: put the arguments in [ ]
	// ada newMessage "hello"
}

// Group actions accept the action in any case.
func ExampleDecodeGroupActions() {
	as, err := bindings.DecodeGroupActions([]byte(`{"action": "Add", "userId": "ada", "groupName": "room1"}`))
	fmt.Println(as[0].Action, as[0].UserID, as[0].GroupName, err)
	// Output: add ada room1 <nil>
}
