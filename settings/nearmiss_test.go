package settings

import (
	"strings"
	"testing"
)

// TestNearMissHint names the closest setting when no connection is found.
func TestNearMissHint(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string // "" for no hint
	}{
		{"one underscore", map[string]string{"AzureSignalRConnectionString_serviceUri": "https://a.service.signalr.net"},
			`; AzureSignalRConnectionString_serviceUri is set, which is close to AzureSignalRConnectionString__serviceUri: did you mean that? Names separate sections with two underscores ("__"), or ":" in local.settings.json`},
		{"misspelled prefix", map[string]string{"AzureSignalRConectionString__serviceUri": "https://a.service.signalr.net"},
			"; AzureSignalRConectionString__serviceUri is set, which is close to AzureSignalRConnectionString__serviceUri: did you mean that?"},
		{"misspelled connection string", map[string]string{"AzureSignalRConnectionStrings": "Endpoint=https://a.service.signalr.net;AuthType=azure"},
			"; AzureSignalRConnectionStrings is set, which is close to AzureSignalRConnectionString: did you mean that?"},
		{"endpoints with one underscore", map[string]string{"Azure_SignalR_Endpoints_east": "Endpoint=https://a.service.signalr.net;AuthType=azure"},
			`; Azure_SignalR_Endpoints_east is set, which is close to Azure__SignalR__Endpoints__<name>: did you mean that? Names separate sections with two underscores ("__"), or ":" in local.settings.json`},
		{"ConnectionStrings without its s", map[string]string{"ConnectionString:AzureSignalRConnectionString": "Endpoint=https://a.service.signalr.net;AuthType=azure"},
			"; ConnectionString:AzureSignalRConnectionString is set, which is close to ConnectionStrings__AzureSignalRConnectionString: did you mean that?"},
		{"comment keys are not settings", map[string]string{"#AzureSignalRConnectionString:serviceUri": "https://a.service.signalr.net"}, ""},
		{"nothing close", map[string]string{"SomethingElse__serviceUri": "https://a.service.signalr.net"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cleanEnv(t, tt.env)
			_, err := Load(nil)
			if err == nil {
				t.Fatal("Load found a connection")
			}
			msg := err.Error()
			if !strings.Contains(msg, "no SignalR Service connection found") {
				t.Fatalf("error %q", msg)
			}
			hint := strings.Contains(msg, "did you mean")
			if tt.want == "" && hint || tt.want != "" && !strings.Contains(msg, tt.want+". Set ") {
				t.Errorf("error\n%s\nwant hint %q", msg, tt.want)
			}
		})
	}
}
