package settings

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// TestSecretRedacted prints a secret, and the endpoint holding it, every way
// a log line or an error might: none may show the value, even hex-encoded.
func TestSecretRedacted(t *testing.T) {
	const value = "TOPSECRET"
	e := Endpoint{Name: "east", AccessKey: Secret(value), Auth: Auth{Kind: "AccessKey"}}
	var outs []string
	for _, v := range []any{Secret(value), e, &e, []Secret{Secret(value)}, map[string]Secret{"k": Secret(value)}} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.3s"} {
			outs = append(outs, verb+" "+fmt.Sprintf(verb, v))
		}
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("json.Marshal(%T): %v", v, err)
		}
		outs = append(outs, "json "+string(data))
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("m", "v", v)
		slog.New(slog.NewTextHandler(&buf, nil)).Info("m", "v", v)
		outs = append(outs, "slog "+buf.String())
	}
	for _, out := range outs {
		if strings.Contains(out, value) || strings.Contains(strings.ToLower(out), hex.EncodeToString([]byte(value))) {
			t.Errorf("secret shown: %s", out)
		}
	}
	if got := fmt.Sprint(Secret(value)); got != "REDACTED" {
		t.Errorf("Sprint = %q, want REDACTED", got)
	}
	if got := fmt.Sprintf("%#v", Secret(value)); got != `"REDACTED"` {
		t.Errorf("%%#v = %q, want \"REDACTED\"", got)
	}
	if got := Secret(value).Reveal(); got != value {
		t.Errorf("Reveal = %q, want the value", got)
	}
}
