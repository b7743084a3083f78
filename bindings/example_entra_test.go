package bindings_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/signalr-entra/handler/bindings"
	"github.com/signalr-entra/handler/emulator"
)

// Negotiate and send with Microsoft Entra ID: a user-assigned managed
// identity, as a function app on Azure may have. Here the loopback stand-in
// of SignalR Service plays the resource and App Service's managed identity
// endpoint, and the identity holds SignalR Service Owner; on Azure, leave
// the environment alone and pass the resource's URI.
func ExampleNewFromCredential() {
	srv, err := emulator.NewServer(nil)
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	identity, err := srv.AddUserIdentity(emulator.UserIdentity{Roles: []emulator.Role{emulator.ServiceOwner}})
	if err != nil {
		panic(err)
	}
	// What App Service sets for a function app with a managed identity.
	os.Setenv("IDENTITY_ENDPOINT", srv.IdentityEndpoint)
	os.Setenv("IDENTITY_HEADER", srv.IdentityHeader)
	defer os.Unsetenv("IDENTITY_ENDPOINT")
	defer os.Unsetenv("IDENTITY_HEADER")

	cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ID: azidentity.ClientID(identity.ClientID)})
	if err != nil {
		panic(err)
	}
	c, err := bindings.NewFromCredential(srv.URL, cred, nil)
	if err != nil {
		panic(err)
	}
	defer c.Close()

	// The token is signed with a temporary key the identity fetched.
	info, err := c.ConnectionInfo(context.Background(), "chat", "ada", nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(strings.TrimPrefix(info.URL, srv.URL), info.AccessToken != "")
	fmt.Println(c.Send(context.Background(), "chat", bindings.Message{UserID: "ada", Target: "newMessage"}))
	// Output:
	// /client/?hub=chat true
	// <nil>
}

// An identity without a role gets an error naming the identity, the role
// it lacks and the resource, in the words of the Go API.
func ExampleNewFromCredential_missingRole() {
	srv, err := emulator.NewServer(nil) // no role for anyone
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	// Any azcore.TokenCredential: the stand-in's own mints tokens for its
	// system-assigned identity without HTTP.
	c, err := bindings.NewFromCredential(srv.URL, srv.Credential(srv.SystemIdentity().ObjectID), nil)
	if err != nil {
		panic(err)
	}
	defer c.Close()

	err = c.Send(context.Background(), "chat", bindings.Message{Target: "newMessage"})
	var be *bindings.Error
	if errors.As(err, &be) {
		fmt.Println(be.Status, be.Op)
		fmt.Println(strings.ReplaceAll(be.Message, srv.URL, "https://contoso.service.signalr.net"))
	}
	// Output:
	// 403 send to all
	// emulator.credential lacks the SignalR REST API Owner or SignalR Service Owner role on https://contoso.service.signalr.net, needed to send to all. Assign it on that resource (or on its resource group or subscription); role assignments take up to 30 minutes to apply. A network rule of the resource (firewall, private endpoint) can also answer 403.
}
