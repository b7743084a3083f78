package settings_test

import (
	"context"
	"fmt"

	"github.com/signalr-entra/handler/bindings"
	"github.com/signalr-entra/handler/emulator"
	"github.com/signalr-entra/handler/settings"
)

// A connection string as the C# extension reads it; AuthType=azure.msi,
// azure.app or azure choose an Entra credential, AccessKey signs with the key.
func ExampleEndpoint_Config() {
	srv, err := emulator.NewServer(nil)
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	ep, _, err := settings.ParseEndpoint("connection string", srv.ConnectionString(), nil) // Endpoint=…;AccessKey=…;Version=1.0;
	if err != nil {
		panic(err)
	}
	c, err := bindings.New([]bindings.EndpointConfig{ep.Config()}, nil)
	if err != nil {
		panic(err)
	}
	defer c.Close()
	fmt.Println(c.Send(context.Background(), "chat", bindings.Message{GroupName: "room1", Target: "newMessage"}))

	_, _, err = settings.ParseEndpoint("connection string", "Endpoint=https://<name>.service.signalr.net;AuthType=azure.msi;Version=1.0;", nil)
	fmt.Println(err)
	// Output:
	// <nil>
	// connection string (Endpoint): value "https://<name>.service.signalr.net" holds the placeholder <name> of the example settings. Replace it with the SignalR resource's endpoint, such as https://contoso.service.signalr.net (az signalr show -n <name> -g <resource-group> --query hostName -o tsv gives the host)
}
