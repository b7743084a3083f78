package settings

import "testing"

func TestSettingName(t *testing.T) {
	tests := []struct{ setting, want string }{
		{"AzureSignalRConnectionString", "AzureSignalRConnectionString__clientId"},
		{"Azure__SignalR__Endpoints__east", "Azure__SignalR__Endpoints__east__clientId"},
		{"Azure:SignalR:Endpoints:west", "Azure:SignalR:Endpoints:west:clientId"},
	}
	for _, tt := range tests {
		if got := (Endpoint{Setting: tt.setting}).SettingName("clientId"); got != tt.want {
			t.Errorf("SettingName of %q = %q, want %q", tt.setting, got, tt.want)
		}
	}
}
