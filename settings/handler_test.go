package settings

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestHandlerSettings(t *testing.T) {
	cleanEnv(t, map[string]string{"SIGNALR_HUBS": "chat, news", "SIGNALR_NEGOTIATE": "Service", "SIGNALR_TOKEN_LIFETIME": "30m",
		"FUNCTIONS_CUSTOMHANDLER_PORT": "8080", "WEBSITE_AUTH_ENABLED": "True", "AzureSignalRConnectionString__serviceUri": uri})
	cfg, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Handler{Hubs: []string{"chat", "news"}, AppServiceAuthentication: true, TokenLifetime: 30 * time.Minute, ConnectionSetting: "AzureSignalRConnectionString",
		Negotiate: "service", KeyWait: 10 * time.Second, KeyRefresh: time.Hour, MaxBodyBytes: 1 << 20, MaxItems: 1000, MaxInflightBytes: 64 << 20, Port: 8080, NegotiateUserIDClaim: "sub"}
	if diff := cmp.Diff(want, cfg.Handler); diff != "" {
		t.Errorf("handler settings (-want +got):\n%s", diff)
	}
}

func TestHandlerValidate(t *testing.T) {
	valid := Handler{Hubs: []string{"chat"}, TokenLifetime: time.Hour, ConnectionSetting: "c", Negotiate: "auto", KeyWait: time.Second, KeyRefresh: time.Hour, MaxBodyBytes: 1, MaxItems: 1, MaxInflightBytes: 1, Port: 7071}
	tests := []struct {
		name   string
		change func(*Handler)
		want   string // "" for valid
	}{
		{"valid", func(*Handler) {}, ""},
		{"hub with allowed punctuation", func(h *Handler) { h.Hubs = []string{"a_b`c,d.e[f]"} }, ""},
		{"hub too long", func(h *Handler) { h.Hubs = []string{"a" + strings.Repeat("b", 128)} }, "SIGNALR_HUBS: invalid hub name"},
		{"no hub", func(h *Handler) { h.Hubs = nil }, "SIGNALR_HUBS: no hub is named"},
		{"negotiate", func(h *Handler) { h.Negotiate = "remote" }, `SIGNALR_NEGOTIATE: invalid value "remote"`},
		{"lifetime zero", func(h *Handler) { h.TokenLifetime = 0 }, "SIGNALR_TOKEN_LIFETIME: lifetime 0s is out of range"},
		{"lifetime 24h is allowed", func(h *Handler) { h.TokenLifetime = 24 * time.Hour }, ""},
		{"lifetime over 24h", func(h *Handler) { h.TokenLifetime = 25 * time.Hour }, "SIGNALR_TOKEN_LIFETIME"},
		{"port", func(h *Handler) { h.Port = 70000 }, "FUNCTIONS_CUSTOMHANDLER_PORT: port 70000 is out of range"},
		{"key wait", func(h *Handler) { h.KeyWait = 0 }, "SIGNALR_KEY_WAIT"},
		{"lifetime under a minute", func(h *Handler) { h.TokenLifetime = 30 * time.Second }, "SIGNALR_TOKEN_LIFETIME: lifetime 30s is out of range"},
		{"key refresh short", func(h *Handler) { h.KeyRefresh = 5 * time.Second }, ""},
		{"key refresh past the key's use", func(h *Handler) { h.KeyRefresh = 90 * time.Minute }, "SIGNALR_KEY_REFRESH: interval 1h30m0s is out of range"},
		{"body limit", func(h *Handler) { h.MaxBodyBytes = 0 }, "SIGNALR_MAX_BODY_BYTES"},
		{"item limit", func(h *Handler) { h.MaxItems = 0 }, "SIGNALR_MAX_ITEMS: limit 0 is not positive"},
		{"in-flight limit", func(h *Handler) { h.MaxInflightBytes = -1 }, "SIGNALR_MAX_INFLIGHT_BYTES: limit -1 is not positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := valid
			tt.change(&h)
			err := h.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestHandlerParseError(t *testing.T) {
	cleanEnv(t, map[string]string{"SIGNALR_TOKEN_LIFETIME": "soon", "AzureSignalRConnectionString__serviceUri": uri})
	_, err := Load(nil)
	if err == nil || !strings.Contains(err.Error(), `SIGNALR_TOKEN_LIFETIME: invalid value "soon"`) {
		t.Errorf("Load = %v, want the bad lifetime named", err)
	}
}

func TestHandlerSettingsInAnotherCase(t *testing.T) {
	cleanEnv(t, map[string]string{"signalr_hubs": "chat", "Signalr_Token_Lifetime": "5m", "AzureSignalRConnectionString__serviceUri": uri})
	cfg, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"Signalr_Token_Lifetime is ignored: the handler reads SIGNALR_TOKEN_LIFETIME, in exactly that case. Rename the setting",
		"signalr_hubs is ignored: the handler reads SIGNALR_HUBS, in exactly that case. Rename the setting",
	}
	if diff := cmp.Diff(want, cfg.Warnings); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"default"}, cfg.Handler.Hubs); diff != "" {
		t.Errorf("hubs (-want +got):\n%s", diff)
	}
}

// TestListenPort reads the port alone, as the handler does before the rest
// of its settings, and Load reports a bad one with the other problems.
func TestListenPort(t *testing.T) {
	tests := []struct {
		value string
		want  int
		err   string
	}{
		{"", DefaultPort, ""},
		{"8080", 8080, ""},
		{" 8080 ", 8080, ""},
		{"65535", 65535, ""},
		{"0", 0, `FUNCTIONS_CUSTOMHANDLER_PORT: invalid value "0". Use a port from 1 to 65535`},
		{"70000", 0, `FUNCTIONS_CUSTOMHANDLER_PORT: invalid value "70000". Use a port from 1 to 65535`},
		{"http", 0, `FUNCTIONS_CUSTOMHANDLER_PORT: invalid value "http". Use a port from 1 to 65535`},
	}
	for _, tt := range tests {
		cleanEnv(t, map[string]string{"FUNCTIONS_CUSTOMHANDLER_PORT": tt.value, "SIGNALR_TOKEN_LIFETIME": "1s", "AzureSignalRConnectionString__serviceUri": uri})
		got, err := ListenPort()
		if got != tt.want || errText(err) != tt.err {
			t.Errorf("ListenPort() with %q = %d, %q; want %d, %q", tt.value, got, errText(err), tt.want, tt.err)
		}
		_, err = Load(nil)
		if !strings.Contains(errText(err), "SIGNALR_TOKEN_LIFETIME") || !strings.Contains(errText(err), tt.err) {
			t.Errorf("Load with port %q: %v; want the lifetime's problem and %q", tt.value, err, tt.err)
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
