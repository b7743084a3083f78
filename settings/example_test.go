package settings_test

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/signalr-entra/handler/settings"
)

func ExampleParseConnectionString() {
	kv, err := settings.ParseConnectionString("Endpoint=https://contoso.service.signalr.net;AuthType=azure.msi;ClientId=00000000-0000-0000-0000-000000000001;Version=1.0;")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(kv["endpoint"], kv["authtype"], kv["clientid"])

	_, err = settings.ParseConnectionString("Endpoint=https://contoso.service.signalr.net;AccessKey=a;accesskey=b")
	fmt.Println(err)
	// Output:
	// https://contoso.service.signalr.net azure.msi 00000000-0000-0000-0000-000000000001
	// key AccessKey appears twice. Keep one
}

func ExampleLoad() {
	// The Functions host passes app settings as environment variables.
	os.Setenv("AzureSignalRConnectionString__serviceUri", "https://contoso.service.signalr.net")
	os.Setenv("AzureSignalRConnectionString__credential", "managedidentity")
	os.Setenv("AzureSignalRConnectionString__clientId", "00000000-0000-0000-0000-000000000001")
	defer os.Unsetenv("AzureSignalRConnectionString__serviceUri")
	defer os.Unsetenv("AzureSignalRConnectionString__credential")
	defer os.Unsetenv("AzureSignalRConnectionString__clientId")

	cfg, err := settings.Load(nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, e := range cfg.Endpoints {
		fmt.Println(e.ServiceURI, e.Type, e.Auth.Kind)
		fmt.Println(e.Auth.Identity())
	}
	fmt.Println(cfg.Handler.Hubs, cfg.Handler.TokenLifetime)
	// Output:
	// https://contoso.service.signalr.net primary ManagedIdentityCredential
	// user-assigned managed identity with client id 00000000-0000-0000-0000-000000000001
	// [default] 1h0m0s
}

func ExampleSettingError() {
	os.Setenv("AzureSignalRConnectionString__serviceUri", "http://contoso.service.signalr.net")
	defer os.Unsetenv("AzureSignalRConnectionString__serviceUri")

	_, err := settings.Load(nil)
	fmt.Println(err)
	// Output:
	// AzureSignalRConnectionString__serviceUri: value "http://contoso.service.signalr.net" uses plain http to a host that is not loopback. Use https; plain http is allowed only to 127.0.0.1, [::1] or localhost (a local stand-in)
}

func ExampleSecret() {
	key := settings.Secret("a-real-access-key")
	e := settings.Endpoint{Name: "east", AccessKey: key}
	fmt.Println(key)
	fmt.Printf("%#v %d\n", key, key)
	data, _ := json.Marshal(e)
	fmt.Println(strings.Contains(fmt.Sprintf("%+v", e)+string(data), "a-real-access-key"))
	fmt.Println(len(key.Reveal()))
	// Output:
	// REDACTED
	// "REDACTED" REDACTED
	// false
	// 17
}
