package hostproto

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDecodeInvocationRequest(t *testing.T) {
	all := &Needs{Query: []string{"hub"}, Headers: []string{"Content-Type", "X-Multi"}, Identities: true, Body: true}
	negotiate := &Needs{Query: []string{"hub"}, Headers: []string{"Origin"}}
	tests := []struct {
		name    string
		needs   *Needs
		payload string
		want    *Request
		wantErr string
	}{
		{
			name:    "what the host sends",
			needs:   all,
			payload: `{"Data":{"req":{"Url":"http://h/api/x?hub=a","Method":"post","Query":{"hub":"a","n":"1"},"Headers":{"content-type":["application/json"],"X-MULTI":["1","2"],"Host":["h"]},"Params":{},"Identities":[{"AuthenticationType":"WebJobsAuthLevel","IsAuthenticated":true,"Claims":[{"Issuer":"LOCAL AUTHORITY","Type":"t","Value":"v"}]}],"Body":"{}"}},"Metadata":{"hub":"\"a\""}}`,
			want: &Request{Method: "POST", Query: url.Values{"hub": {"a"}},
				Headers:    http.Header{"Content-Type": {"application/json"}, "X-Multi": {"1"}}, // the first value: what Header.Get reads
				Identities: []Identity{{AuthenticationType: "WebJobsAuthLevel", Claims: []Claim{{"t", "v"}}}}, Body: []byte("{}")},
		},
		{
			name:    "negotiate reads neither identities nor body, nor headers it does not use",
			needs:   negotiate,
			payload: `{"Data":{"req":{"Url":"u","Method":"GET","Query":{"hub":"a"},"Headers":{"Origin":["https://o"],"Cookie":["c"]},"Identities":[{"AuthenticationType":null,"Claims":[]}],"Body":"x"}}}`,
			want:    &Request{Method: "GET", Query: url.Values{"hub": {"a"}}, Headers: http.Header{"Origin": {"https://o"}}},
		},
		{
			name:    "what is skipped may have any shape",
			needs:   negotiate,
			payload: `{"Data":{"req":{"Url":"u","Method":"GET","Query":{"hub":"a","n":1},"Headers":{"Cookie":"c","X":null},"Identities":"[]","Body":{"a":1},"Params":[]}},"Metadata":[1]}`,
			want:    &Request{Method: "GET", Query: url.Values{"hub": {"a"}}},
		},
		{
			name:    "octet-stream body arrives as base64",
			needs:   all,
			payload: `{"Data":{"req":{"Url":"u","Method":"POST","Headers":{"Content-Type":["application/octet-stream"]},"Body":"eyJ0YXJnZXQiOiJhIn0="}}}`,
			want:    &Request{Method: "POST", Headers: http.Header{"Content-Type": {"application/octet-stream"}}, Body: []byte(`{"target":"a"}`)},
		},
		{
			name:    "the trigger named req is preferred",
			needs:   negotiate,
			payload: `{"Data":{"a":{"Url":"u","Method":"PUT"},"req":{"Url":"u","Method":"GET"},"z":{"Url":"u","Method":"DELETE"}}}`,
			want:    &Request{Method: "GET"},
		},
		{
			name:    "else the first by name",
			needs:   negotiate,
			payload: `{"Data":{"z":{"Url":"u","Method":"DELETE"},"b":{"Url":"u","Method":"PUT"}}}`,
			want:    &Request{Method: "PUT"},
		},
		{name: "no HTTP trigger", needs: negotiate, payload: `{"Data":{"queueItem":"\"{}\"","o":{"Method":"GET"}}}`},
		{name: "Query as a string", needs: negotiate, payload: `{"Data":{"req":{"Url":"u","Method":"GET","Query":"{\"hub\":\"a\"}"}}}`, wantErr: "Data.req.Query (not an object): want an object of strings"},
		{name: "needed header as a string", needs: negotiate, payload: `{"Data":{"req":{"Url":"u","Method":"GET","Headers":{"origin":"o"}}}}`, wantErr: `Data.req.Headers["Origin"]: want an object of arrays of strings`},
		{name: "needed query value not a string", needs: negotiate, payload: `{"Data":{"req":{"Url":"u","Method":"GET","Query":{"hub":1}}}}`, wantErr: `Data.req.Query["hub"]: want an object of strings`},
		{name: "Identities as a string", needs: all, payload: `{"Data":{"req":{"Url":"u","Method":"GET","Identities":"[]"}}}`, wantErr: "Data.req.Identities (not an array)"},
		{name: "a claim value not a string", needs: all, payload: `{"Data":{"req":{"Url":"u","Method":"GET","Identities":[{"Claims":[{"Type":"t","Value":5}]}]}}}`, wantErr: "Data.req.Identities[0].Claims[0].Value"},
		{name: "Body as an object", needs: all, payload: `{"Data":{"req":{"Url":"u","Method":"POST","Body":{"target":"a"}}}}`, wantErr: "Data.req.Body: want a string"},
		{name: "Method not a string", needs: negotiate, payload: `{"Data":{"req":{"Url":"u","Method":7}}}`, wantErr: "Data.req.Method: want a string"},
		{name: "bad base64 body", needs: all, payload: `{"Data":{"req":{"Url":"u","Method":"POST","Headers":{"Content-Type":["application/octet-stream"]},"Body":"%%"}}}`, wantErr: "Data.req.Body: want base64 of the application/octet-stream body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := DecodeInvocation([]byte(tt.payload), tt.needs)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || errors.Is(err, ErrNotJSON) {
					t.Fatalf("err %v, want one about %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, inv.Request, cmp.AllowUnexported(Request{})); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeInvocationNotJSON(t *testing.T) {
	for _, payload := range []string{``, `null`, `[]`, `{"Data":`, `{"Metadata":{}} x`, `{"Data":{"req":{"Url":"u","Method":"GET","Query":{"hub":"a"`, `{"Data":{"req":{"Url":"u","Method":"GET",}}}`, `{"Metadata":{"a":tru}}`, `{"Data":[]}`} {
		if _, err := DecodeInvocation([]byte(payload), &Needs{}); !errors.Is(err, ErrNotJSON) {
			t.Errorf("%s: err %v, want ErrNotJSON", payload, err)
		}
	}
}

func TestTriggerData(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		want    string
		wantErr string
	}{
		// The host serializes a string value, then the payload.
		{name: "queue item: a string encoded twice", payload: `{"Data":{"queueItem":"\"{\\\"target\\\":\\\"a\\\"}\""}}`, want: `{"target":"a"}`},
		{name: "bytes as base64", payload: `{"Data":{"queueItem":"eyJ0YXJnZXQiOiJhIn0="}}`, want: `{"target":"a"}`},
		{name: "an object", payload: `{"Data":{"item":{"target":"a"}}}`, want: `{"target":"a"}`},
		{name: "a collection the host wrote as a string", payload: `{"Data":{"items":"[{\"target\":\"a\"}]"}}`, want: `[{"target":"a"}]`},
		{name: "the first entry by name", payload: `{"Data":{"b":"\"{}\"","a":"\"[]\""}}`, want: `[]`},
		{name: "a timer with an input binding", payload: `{"Data":{"myTimer":{"Schedule":{"AdjustForDST":true},"ScheduleStatus":null,"IsPastDue":false},"payload":"\"[{\\\"target\\\":\\\"a\\\"}]\""}}`, want: `[{"target":"a"}]`},
		{name: "a timer alone", payload: `{"Data":{"myTimer":{"Schedule":{},"IsPastDue":false}}}`, wantErr: "a timer trigger brings no messages"},
		{name: "nothing", payload: `{"Data":{},"Metadata":{}}`, wantErr: "no trigger data"},
		{name: "Data null", payload: `{"Data":null,"Metadata":{}}`, wantErr: "no trigger data"},
		{name: "a broken double encoding", payload: `{"Data":{"q":"\"{"}}`, wantErr: "is not a JSON-encoded string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := DecodeInvocation([]byte(tt.payload), &Needs{Body: true})
			if err != nil {
				t.Fatal(err)
			}
			got, err := inv.TriggerData()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Errorf("got %s, %v; want %s", got, err, tt.want)
			}
		})
	}
}

// TestJSONReaderAgreesWithEncodingJSON checks the reader against
// encoding/json on what is valid and on the value of every string.
func TestJSONReaderAgreesWithEncodingJSON(t *testing.T) {
	docs := []string{
		`{}`, `[]`, `""`, `0`, `-0.5e+10`, `1E3`, `true`, `false`, `null`, ` {"a" : [1, "b", {"c": null}] } `,
		`"\u00e9\n\t\"\\\/"`, `"\ud83d\ude00"`, `"\ud800"`, "\"\xff\"", `"é"`,
		`01`, `1.`, `-`, `.5`, `1e`, `+1`, `"\x"`, `"\u12"`, "\"a\x01\"", `{"a"}`, `{"a":1,}`, `[1,]`, `[1 2]`, `{,"a":1}`,
		`[`, `{"a":`, `"abc`, `nul`, `tru`, `{"a":1}}`, `{1:2}`,
	}
	for _, d := range docs {
		checkReaderAgrees(t, []byte(d))
	}
	for _, name := range testdataPayloads(t) {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		checkReaderAgrees(t, b)
	}
}

func FuzzJSONReader(f *testing.F) {
	for _, d := range []string{`{"a":[1,"b\n",{"c":null}]}`, `"\ud83d\ude00"`, `-1.5e3`, `[true,false]`} {
		f.Add([]byte(d))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkReaderAgrees(t, b) })
}

func checkReaderAgrees(t *testing.T, b []byte) {
	t.Helper()
	r := &jsonReader{b: b}
	r.skip()
	r.end()
	if valid := json.Valid(b); (r.err == nil) != valid {
		t.Fatalf("%q: reader err %v, json.Valid %v", b, r.err, valid)
	}
	r = &jsonReader{b: b}
	got, ok := r.str()
	r.end()
	var want string
	if err := json.Unmarshal(b, &want); ok && r.err == nil && (err != nil || got != want) {
		t.Fatalf("%q: reader read %q, encoding/json %q (%v)", b, got, want, err)
	}
}

func testdataPayloads(t testing.TB) []string {
	names, err := filepath.Glob("../../handler/testdata/*.request.json")
	if err != nil || len(names) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	return names
}

// FuzzDecodeInvocation feeds the payload decoder what a host, or anything
// posing as one, might send: it must never panic, and accept only what
// starts as valid JSON up to the end of Data.
func FuzzDecodeInvocation(f *testing.F) {
	for _, name := range testdataPayloads(f) {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"Data":{"req":{"Method":"POST","Url":"u","Headers":{"a":[1,null,{}]},"Query":"[]","Body":[1]}}}`))
	f.Add([]byte(`{"Data":{"x":"W10="}}`))
	f.Add([]byte(`null`))
	needs := []*Needs{
		{Query: []string{"hub"}, Headers: []string{"Origin"}},
		{Query: []string{"hub"}, Headers: []string{"Origin", "Content-Type", "X-Ms-Client-Principal"}, Identities: true, Body: true},
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		for _, n := range needs {
			inv, err := DecodeInvocation(payload, n)
			if err != nil {
				continue
			}
			if !json.Valid(payload) && !validUpToData(payload) {
				t.Fatalf("accepted invalid JSON %q", payload)
			}
			if inv.Request == nil {
				_, _ = inv.TriggerData()
			}
		}
	})
}

// validUpToData says whether payload is a JSON object whose members up to
// and with Data are valid; what follows is not read.
func validUpToData(payload []byte) bool {
	r := &jsonReader{b: payload}
	r.enter('{', "")
	for k := 0; r.more('}', k == 0); k++ {
		isData := bytes.EqualFold(r.key(), []byte("Data"))
		v := r.raw()
		if isData && r.err == nil && !bytes.Equal(v, []byte("null")) {
			return json.Valid(v)
		}
	}
	return false
}
