package msgpack

import (
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
			r := &Reader{b: data}
			got, err := r.AppendJSON(nil, 0)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
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
		got, err := AppendFromJSON(nil, []byte(tt.json))
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
			got, err := AppendFromJSON(nil, []byte(js))
			if err != nil {
				t.Fatal(err)
			}
			back, err := (&Reader{b: got}).AppendJSON(nil, 0)
			if err != nil || string(back) != js {
				t.Errorf("round trip of %d items: %v", n, err)
			}
		}
	}
}

func TestAppendVarint(t *testing.T) {
	for n, want := range map[int]string{0: "00", 127: "7f", 128: "8001", 16384: "808001", 34: "22"} {
		if got := hex.EncodeToString(AppendVarint(nil, n)); got != want {
			t.Errorf("%d: got %s, want %s", n, got, want)
		}
	}
}

func FuzzMsgpackToJSON(f *testing.F) {
	for _, h := range []string{"c0", "cfffffffffffffffff", "de0001a16101", "c70cff000000000000000065000000", "ca3fc00000"} {
		b, _ := hex.DecodeString(h)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &Reader{b: data}
		js, err := r.AppendJSON(nil, 0)
		if err != nil {
			return
		}
		if !json.Valid(js) {
			t.Fatalf("%x gave invalid JSON %q", data, js)
		}
		// JSON → MessagePack → JSON is stable.
		mp, err := AppendFromJSON(nil, js)
		if err != nil {
			t.Fatal(err)
		}
		again, err := (&Reader{b: mp}).AppendJSON(nil, 0)
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

// FuzzAppendJSONString checks that AppendJSONString writes what
// encoding/json writes for any string.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "\"\\\n\r\t\b\f\x00\x1f", "<a href='x'>&</a>", "\u2028\u2029é😀", "\xff\xfe bad", "\xe2\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := AppendJSONString(nil, s); string(got) != string(want) {
			t.Fatalf("%q: got %s, want %s", s, got, want)
		}
	})
}
