package upstream

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/signalr-entra/handler/internal/msgpack"
)

// readTestdata reads testdata/name; the MessagePack files hold what
// @microsoft/signalr-protocol-msgpack writes.
func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeUpstreamBodies(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    int
		wantMsg *upstreamMessage
		wantErr string
	}{
		{name: "invocation", body: `{"type":1,"invocationId":"5","target":"t","arguments":[1,null,{"a":"b"}]}`, want: typeInvocation,
			wantMsg: &upstreamMessage{invocationID: "5", target: "t", arguments: json.RawMessage(`[1,null,{"a":"b"}]`)}},
		{name: "invocation without arguments", body: `{"type":1,"target":"t"}`, want: typeInvocation, wantMsg: &upstreamMessage{target: "t"}},
		{name: "disconnected, names in any case", body: `{"Type":11,"Error":"gone"}`, want: typeDisconnect, wantMsg: &upstreamMessage{error: "gone"}},
		{name: "disconnected cleanly", body: `{"type":11}`, want: typeDisconnect, wantMsg: &upstreamMessage{}},
		{name: "wrong type", body: `{"type":10}`, want: typeDisconnect, wantErr: "type 10 where the event needs type 11"},
		{name: "no type", body: `{"target":"t"}`, want: typeInvocation, wantErr: "no type"},
		{name: "no target", body: `{"type":1}`, want: typeInvocation, wantErr: "no target"},
		{name: "two values", body: `{"type":10}{"type":10}`, want: typeConnected, wantErr: "more than one"},
		{name: "arguments not an array", body: `{"type":1,"target":"t","arguments":{}}`, want: typeInvocation, wantErr: `arguments are "{}", not an array`},
		{name: "not JSON", body: `type=1`, want: typeInvocation, wantErr: "not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeJSONUpstream([]byte(tt.body), tt.want)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantMsg, got, cmp.AllowUnexported(upstreamMessage{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeMsgpackInvocation(t *testing.T) {
	// As @microsoft/signalr-protocol-msgpack 10.0.11 writes them, without
	// the length prefix.
	got, err := decodeMsgpackInvocation(readTestdata(t, "echo.msgpack"))
	if err != nil {
		t.Fatal(err)
	}
	want := &upstreamMessage{invocationID: "1", target: "Echo", arguments: json.RawMessage(`["hi",42,-3,1.5,true,null,"AQID",{"a":[1,"x"]}]`)}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(upstreamMessage{})); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for name, tt := range map[string]struct{ hex, wantErr string }{
		"completion, not an invocation": {"950380a13101", "type 3"},
		"too few fields":                {"930180c0", "3 fields"},
		"target nil":                    {"960180c0c09090", "target"},
		"header value not a string":     {"960181a16101c0a1749090", "headers"},
		"trailing bytes":                {"950180c0a1749000", "1 bytes follow"},
	} {
		t.Run(name, func(t *testing.T) {
			data, _ := hex.DecodeString(tt.hex)
			if _, err := decodeMsgpackInvocation(data); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseSignatures(t *testing.T) {
	good := "sha256=" + strings.Repeat("AB", 32) // well-formed; parseSignatures checks no key
	for name, tt := range map[string]struct {
		raw     string
		want    int
		wantErr string
	}{
		"one":                     {raw: good, want: 1},
		"two, spaced, lower case": {raw: " " + strings.ToLower(good) + " ,, " + good + " ", want: 2},
		"prefix in upper case":    {raw: "SHA256=" + strings.TrimPrefix(good, "sha256="), want: 1},
		"empty":                   {raw: " , ", wantErr: "no entries"},
		"other algorithm":         {raw: "sha1=abcd", wantErr: "does not start with sha256="},
		"short":                   {raw: "sha256=abcd", wantErr: "64 hex digits"},
		"not hex":                 {raw: "sha256=" + strings.Repeat("zz", 32), wantErr: "64 hex digits"},
		"too many":                {raw: strings.Repeat(good+",", maxSignatures+1), wantErr: "more than 8"},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := parseSignatures(tt.raw)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || len(got) != tt.want {
				t.Fatalf("%d entries, %v; want %d", len(got), err, tt.want)
			}
		})
	}
}

func FuzzDecodeMsgpackInvocation(f *testing.F) {
	for _, name := range []string{"echo.msgpack", "send.msgpack"} {
		f.Add(readTestdata(f, name))
	}
	f.Add([]byte{0x96, 0x01, 0x80, 0xc0, 0xa1, 't', 0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeMsgpackInvocation(data)
		if err != nil {
			return
		}
		// The arguments must be a valid JSON array, and survive the way back.
		if a := m.arguments; !json.Valid(a) || a[0] != '[' {
			t.Fatalf("arguments %q are not a JSON array", a)
		}
		if _, err := msgpack.AppendFromJSON(nil, m.arguments); err != nil {
			t.Fatalf("arguments %s do not encode back: %v", m.arguments, err)
		}
	})
}

func FuzzDecodeJSONUpstream(f *testing.F) {
	for _, s := range []string{`{"type":1,"invocationId":"1","target":"Echo","arguments":["hi",42]}`, `{"type":10}`, `{"Type":11,"Error":"x"}`, `{"type":1,"target":"t","arguments":[null]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, want := range []int{typeInvocation, typeConnected, typeDisconnect} {
			m, err := decodeJSONUpstream(data, want)
			if err != nil {
				continue
			}
			if a := bytes.TrimSpace(m.arguments); a != nil && (!json.Valid(a) || a[0] != '[') {
				t.Fatalf("arguments %q are not a JSON array", a)
			}
			if want == typeInvocation {
				// A completion for it is valid JSON plus the separator.
				c := appendJSONCompletion(nil, m.invocationID, json.RawMessage(`{"x":1}`), "")
				if !bytes.HasSuffix(c, []byte{recordSeparator}) || !json.Valid(c[:len(c)-1]) {
					t.Fatalf("completion %q", c)
				}
			}
		}
	})
}

func FuzzParseSignatures(f *testing.F) {
	f.Add("sha256=" + strings.Repeat("AB", 32) + ", sha256=" + strings.Repeat("0c", 32))
	f.Add("sha256=,sha256=zz")
	f.Fuzz(func(t *testing.T, raw string) {
		sigs, err := parseSignatures(raw)
		if err != nil {
			return
		}
		if len(sigs) == 0 || len(sigs) > maxSignatures {
			t.Fatalf("%d entries", len(sigs))
		}
		for _, s := range sigs {
			if len(s) != 32 {
				t.Fatalf("entry of %d bytes", len(s))
			}
		}
	})
}

func TestUpstreamMsgpackCompletionMatchesTheClientLibrary(t *testing.T) {
	// The files hold completions as @microsoft/signalr-protocol-msgpack
	// 10.0.11 writes them.
	got := appendMsgpackCompletion("1", json.RawMessage(`{"echo":["hi",42],"n":-300,"pi":3.25}`), "")
	if diff := cmp.Diff(readTestdata(t, "echo_result.completion.msgpack"), got); diff != "" {
		t.Errorf("result completion (-want +got):\n%s", diff)
	}
	got = appendMsgpackCompletion("1", nil, "boom")
	if diff := cmp.Diff(readTestdata(t, "echo_error.completion.msgpack"), got); diff != "" {
		t.Errorf("error completion (-want +got):\n%s", diff)
	}
}
