package emulator_test

import (
	"context"
	"fmt"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/signalr-entra/handler/emulator"
)

// Example starts the stand-in with a system-assigned identity holding
// SignalR App Server, gets an Entra token in-process and asks the auth API
// for a temporary key.
func Example() {
	srv, err := emulator.NewServer(&emulator.Options{SystemIdentityRoles: []emulator.Role{emulator.AppServer}})
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	cred := srv.Credential(srv.SystemIdentity().ObjectID)
	tok, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://signalr.azure.com/.default"}})
	if err != nil {
		panic(err)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/auth/accessKey", nil)
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, srv.Counts().AccessKeys)
	// Output: 200 1
}
