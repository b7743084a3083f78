package settings

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestNearMissHint names the closest setting when no connection is found.
func TestNearMissHint(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string // "" for no hint
	}{
		{"one underscore", map[string]string{"AzureSignalRConnectionString_serviceUri": "https://a.service.signalr.net"},
			`; did you mean AzureSignalRConnectionString__serviceUri? AzureSignalRConnectionString_serviceUri is set, which is close to it. Names separate sections with two underscores ("__"), or ":" in local.settings.json`},
		{"misspelled prefix", map[string]string{"AzureSignalRConectionString__serviceUri": "https://a.service.signalr.net"},
			"; did you mean AzureSignalRConnectionString__serviceUri? AzureSignalRConectionString__serviceUri is set, which is close to it"},
		{"misspelled prefix in local.settings.json", map[string]string{"AzureSignalRConectionString:serviceUri": "https://a.service.signalr.net"},
			"; did you mean AzureSignalRConnectionString:serviceUri? AzureSignalRConectionString:serviceUri is set, which is close to it"},
		{"misspelled connection string", map[string]string{"AzureSignalRConnectionStrings": "Endpoint=https://a.service.signalr.net;AuthType=azure"},
			"; did you mean AzureSignalRConnectionString? AzureSignalRConnectionStrings is set, which is close to it"},
		{"endpoints with one underscore", map[string]string{"Azure_SignalR_Endpoints_east": "Endpoint=https://a.service.signalr.net;AuthType=azure"},
			`; did you mean Azure__SignalR__Endpoints__<name>? Azure_SignalR_Endpoints_east is set, which is close to it. Names separate sections with two underscores ("__"), or ":" in local.settings.json`},
		{"ConnectionStrings without its s", map[string]string{"ConnectionString:AzureSignalRConnectionString": "Endpoint=https://a.service.signalr.net;AuthType=azure"},
			"; did you mean ConnectionStrings:AzureSignalRConnectionString? ConnectionString:AzureSignalRConnectionString is set, which is close to it"},
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
			if tt.want == "" && hint || tt.want != "" && !strings.Contains(msg, tt.want+". Set ") || strings.Contains(msg, "?.") {
				t.Errorf("error\n%s\nwant hint %q", msg, tt.want)
			}
		})
	}
}

// TestHandlerNearMisses names the handler's setting that a misspelled one
// was meant to be, in a warning, and leaves other settings alone.
func TestHandlerNearMisses(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"SIGNALR_HUB", map[string]string{"SIGNALR_HUB": "chat"},
			[]string{"SIGNALR_HUB is ignored: the handler reads no setting of that name; did you mean SIGNALR_HUBS?"}},
		{"one letter off", map[string]string{"SIGNALR_USERID_HEDER": "x-user", "SIGNALR_CLAIMS_TYPES": "email"},
			[]string{"SIGNALR_CLAIMS_TYPES is ignored: the handler reads no setting of that name; did you mean SIGNALR_CLAIM_TYPES?",
				"SIGNALR_USERID_HEDER is ignored: the handler reads no setting of that name; did you mean SIGNALR_USERID_HEADER?"}},
		{"local.settings.json separator", map[string]string{"SIGNALR:UPSTREAM:AUDIENCE": "api://x"},
			[]string{"SIGNALR:UPSTREAM:AUDIENCE is ignored: the handler reads no setting of that name; did you mean SIGNALR_UPSTREAM_AUDIENCE?"}},
		{"exact names", map[string]string{"SIGNALR_HUBS": "chat", "SIGNALR_UPSTREAM_TENANT": "t"}, nil},
		{"other settings", map[string]string{"SIGNALR_EMULATOR_CONNECTION_STRING": "Endpoint=http://127.0.0.1:1;AccessKey=x", "#SIGNALR_HUB": "chat"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"AzureSignalRConnectionString": "Endpoint=https://a.service.signalr.net;AuthType=azure"}
			for k, v := range tt.env {
				env[k] = v
			}
			cleanEnv(t, env)
			cfg, err := Load(nil)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, w := range cfg.Warnings {
				if strings.Contains(w, "did you mean") {
					got = append(got, w)
				}
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("warnings (-want +got):\n%s", d)
			}
		})
	}
}

// BenchmarkHandlerNearMisses compares an App Service sized environment
// (a few hundred variables, their names of every length) with the handler's
// settings at start-up: most pairs are ruled out by their lengths.
func BenchmarkHandlerNearMisses(b *testing.B) {
	var environ []string
	for i := range 300 {
		environ = append(environ, strings.Repeat("W", 4+i%40)+"_SETTING="+strings.Repeat("v", 20))
	}
	environ = append(environ, "SIGNALR_HUB=chat")
	for b.Loop() {
		if got := handlerNearMisses(environ); len(got) != 1 {
			b.Fatalf("near misses %q, want the one for SIGNALR_HUB", got)
		}
	}
}
