package settings

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestPlaceholdersFail refuses values copied unchanged from the example
// settings and the docs, naming each setting, and never quotes a secret.
func TestPlaceholdersFail(t *testing.T) {
	const conn = DefaultConnectionSetting
	tests := []struct {
		name string
		env  map[string]string
		want []string // settings named, in order
		text string   // in the joined error
	}{
		{"example serviceUri", map[string]string{conn + ":serviceUri": "https://<name>.service.signalr.net", conn + ":clientId": ""},
			[]string{conn + ":serviceUri"}, `value "https://<name>.service.signalr.net" holds the placeholder <name> of the example settings. Replace it with the SignalR resource's endpoint`},
		{"client id and tenant", map[string]string{conn + "__serviceUri": "https://a.service.signalr.net", conn + "__clientId": "<client-id>", conn + "__tenantId": "<tenant id>"},
			[]string{conn + "__clientId", conn + "__tenantId"}, "az identity show -n <identity> -g <resource-group> --query clientId -o tsv"},
		{"secret is not quoted", map[string]string{conn + "__serviceUri": "https://a.service.signalr.net", conn + "__tenantId": "11111111-1111-1111-1111-111111111111",
			conn + "__clientId": "22222222-2222-2222-2222-222222222222", conn + "__clientSecret": "<secret>"},
			[]string{conn + "__clientSecret"}, "holds a placeholder of the example settings, not a secret"},
		{"connection string", map[string]string{conn: "Endpoint=https://<name>.service.signalr.net;AccessKey=<key>;Version=1.0;"},
			[]string{conn + " (AccessKey)", conn + " (Endpoint)"}, "az signalr key list"},
		{"endpoints list", map[string]string{"Azure__SignalR__Endpoints__east": "Endpoint=https://<other>.service.signalr.net;AuthType=azure;Version=1.0;"},
			[]string{"Azure__SignalR__Endpoints__east (Endpoint)"}, "<other>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cleanEnv(t, tt.env)
			_, err := Load(nil)
			if err == nil {
				t.Fatal("Load accepted a placeholder")
			}
			var named []string
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				var se *SettingError
				if errors.As(e, &se) {
					named = append(named, se.Setting)
				}
			}
			if diff := cmp.Diff(tt.want, named); diff != "" {
				t.Errorf("settings named (-want +got):\n%s\n%v", diff, err)
			}
			if !strings.Contains(err.Error(), tt.text) {
				t.Errorf("error %q\nlacks %q", err, tt.text)
			}
			if strings.Contains(err.Error(), `"<secret>"`) {
				t.Errorf("error quotes the secret: %v", err)
			}
		})
	}
}

// TestRealValuesAreNotPlaceholders: a secret may hold "<" and ">".
func TestRealValuesAreNotPlaceholders(t *testing.T) {
	cleanEnv(t, map[string]string{DefaultConnectionSetting: "Endpoint=https://a.service.signalr.net;AccessKey=ab<cd>ef;Version=1.0;"})
	if _, err := Load(nil); err != nil {
		t.Errorf("Load: %v", err)
	}
}
