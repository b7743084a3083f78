package handler

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMsgpackToJSON(t *testing.T) {
	tests := []struct {
		name    string
		hex     string
		want    string
		wantErr string
	}{
		{name: "positive fixint", hex: "7f", want: "127"},
		{name: "negative fixint", hex: "e0", want: "-32"},
		{name: "uint8", hex: "ccff", want: "255"},
		{name: "uint16", hex: "cdffff", want: "65535"},
		{name: "uint32", hex: "ceffffffff", want: "4294967295"},
		{name: "uint64 past int64", hex: "cfffffffffffffffff", want: "18446744073709551615"},
		{name: "int8", hex: "d080", want: "-128"},
		{name: "int16", hex: "d18000", want: "-32768"},
		{name: "int32", hex: "d280000000", want: "-2147483648"},
		{name: "int64", hex: "d38000000000000000", want: "-9223372036854775808"},
		{name: "float32", hex: "ca3fc00000", want: "1.5"},
		{name: "float64", hex: "cb400921fb54442d18", want: "3.141592653589793"},
		{name: "nil true false", hex: "93c0c3c2", want: "[null,true,false]"},
		{name: "fixstr with escapes", hex: "a3613c22", want: `"a\u003c\""`},
		{name: "str8", hex: "d903616263", want: `"abc"`},
		{name: "str16", hex: "da0003616263", want: `"abc"`},
		{name: "str32", hex: "db00000003616263", want: `"abc"`},
		{name: "bin8 as base64", hex: "c403010203", want: `"AQID"`},
		{name: "bin16", hex: "c5000101", want: `"AQ=="`},
		{name: "array16", hex: "dc000201c0", want: "[1,null]"},
		{name: "array32", hex: "dd0000000101", want: "[1]"},
		{name: "map16", hex: "de0001a16101", want: `{"a":1}`},
		{name: "map32", hex: "df00000001a16190", want: `{"a":[]}`},
		{name: "fixext as null", hex: "92d4010102", want: "[null,2]"},
		{name: "ext8 timestamp as null", hex: "c70cff000000000000000065000000", want: "null"},
		{name: "empty", hex: "", wantErr: "ends too early"},
		{name: "truncated string", hex: "a361", wantErr: "ends too early"},
		{name: "array longer than the data", hex: "ddffffffff", wantErr: "ends too early"},
		{name: "map with an integer key", hex: "810101", wantErr: "map key is not a string"},
		{name: "NaN", hex: "cb7ff8000000000000", wantErr: "NaN"},
		{name: "never-used marker", hex: "c1", wantErr: "invalid MessagePack marker 0xc1"},
		{name: "nested too deep", hex: strings.Repeat("91", maxMsgpackDepth+2) + "c0", wantErr: "nested deeper"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := hex.DecodeString(tt.hex)
			if err != nil {
				t.Fatal(err)
			}
			r := &msgpackReader{b: data}
			got, err := r.appendJSON(nil, 0)
			if errorWanted(t, err, tt.wantErr) {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want || len(r.b) != 0 {
				t.Errorf("got %s with %d bytes left, want %s", got, len(r.b), tt.want)
			}
		})
	}
}

func TestMsgpackWriter(t *testing.T) {
	tests := []struct {
		json string
		hex  string
	}{
		{"0", "00"}, {"127", "7f"}, {"128", "cc80"}, {"256", "cd0100"}, {"65536", "ce00010000"},
		{"4294967296", "cf0000000100000000"}, {"18446744073709551615", "cfffffffffffffffff"},
		{"-1", "ff"}, {"-32", "e0"}, {"-33", "d0df"}, {"-129", "d1ff7f"}, {"-32769", "d2ffff7fff"},
		{"-2147483649", "d3ffffffff7fffffff"}, {"1.5", "cb3ff8000000000000"},
		{"null", "c0"}, {"true", "c3"}, {"false", "c2"},
		{`""`, "a0"}, {`"` + strings.Repeat("a", 32) + `"`, "d920" + strings.Repeat("61", 32)},
		{"[]", "90"}, {`{"b":1,"a":2}`, "82a16102a16201"},
	}
	for _, tt := range tests {
		got, err := appendMsgpackFromJSON(nil, []byte(tt.json))
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(got) != tt.hex {
			t.Errorf("%s: got %x, want %s", tt.json, got, tt.hex)
		}
	}
	// Long strings, arrays and maps take the 16- and 32-bit headers.
	for _, n := range []int{math.MaxUint8 + 1, math.MaxUint16 + 1} {
		long := `"` + strings.Repeat("x", n) + `"`
		arr := "[" + strings.TrimSuffix(strings.Repeat("1,", n), ",") + "]"
		for _, js := range []string{long, arr} {
			got, err := appendMsgpackFromJSON(nil, []byte(js))
			if err != nil {
				t.Fatal(err)
			}
			back, err := (&msgpackReader{b: got}).appendJSON(nil, 0)
			if err != nil || string(back) != js {
				t.Errorf("round trip of %d items: %v", n, err)
			}
		}
	}
}

func TestAppendVarint(t *testing.T) {
	for n, want := range map[int]string{0: "00", 127: "7f", 128: "8001", 16384: "808001", 34: "22"} {
		if got := hex.EncodeToString(appendVarint(nil, n)); got != want {
			t.Errorf("%d: got %s, want %s", n, got, want)
		}
	}
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
			if errorWanted(t, err, tt.wantErr) {
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
	good := signature("c", "k")
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
			if errorWanted(t, err, tt.wantErr) {
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
		if _, err := appendMsgpackFromJSON(nil, m.arguments); err != nil {
			t.Fatalf("arguments %s do not encode back: %v", m.arguments, err)
		}
	})
}

func FuzzMsgpackToJSON(f *testing.F) {
	for _, h := range []string{"c0", "cfffffffffffffffff", "de0001a16101", "c70cff000000000000000065000000", "ca3fc00000"} {
		b, _ := hex.DecodeString(h)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &msgpackReader{b: data}
		js, err := r.appendJSON(nil, 0)
		if err != nil {
			return
		}
		if !json.Valid(js) {
			t.Fatalf("%x gave invalid JSON %q", data, js)
		}
		// JSON → MessagePack → JSON is stable.
		mp, err := appendMsgpackFromJSON(nil, js)
		if err != nil {
			t.Fatal(err)
		}
		again, err := (&msgpackReader{b: mp}).appendJSON(nil, 0)
		if err != nil {
			t.Fatalf("%x: re-encoded %x does not read: %v", data, mp, err)
		}
		var a, b any
		_ = json.Unmarshal(js, &a)
		_ = json.Unmarshal(again, &b)
		if !cmp.Equal(a, b) {
			t.Fatalf("%s became %s", js, again)
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
	f.Add(signature("c", "k") + ", " + signature("c", "k2"))
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
