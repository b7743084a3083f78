package handler

import (
	"net/http"
	"net/url"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestHTTPRequestDecoding(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		want    *hostRequest
		wantErr bool
	}{
		{
			name:    "current host",
			payload: `{"Data":{"req":{"Url":"http://h/api/x?a=1","Method":"post","Query":{"a":"1"},"Headers":{"content-type":["application/json"],"x-multi":["1","2"]},"Identities":[{"AuthenticationType":"aad","Claims":[{"Type":"t","Value":"v"}]}],"Body":"{}"}}}`,
			want: &hostRequest{URL: "http://h/api/x?a=1", Method: "POST", Query: url.Values{"a": {"1"}},
				Headers:    http.Header{"Content-Type": {"application/json"}, "X-Multi": {"1", "2"}},
				Identities: []identity{{AuthenticationType: "aad", Claims: []hostClaim{{"t", "v"}}}}, Body: []byte("{}")},
		},
		{
			name:    "older host: strings for Query, Identities and header values",
			payload: `{"Data":{"req":{"Url":"http://h/","Method":"GET","Query":"{\"hub\":\"chat\",\"n\":1}","Headers":{"Host":"h","Skip":null},"Identities":"[{\"AuthenticationType\":null,\"Claims\":[]}]"}}}`,
			want: &hostRequest{URL: "http://h/", Method: "GET", Query: url.Values{"hub": {"chat"}, "n": {"1"}},
				Headers: http.Header{"Host": {"h"}}, Identities: []identity{{Claims: []hostClaim{}}}},
		},
		{
			name:    "octet-stream body arrives as base64",
			payload: `{"Data":{"req":{"Url":"http://h/","Method":"POST","Headers":{"Content-Type":["application/octet-stream"]},"Body":"eyJ0YXJnZXQiOiJhIn0="}}}`,
			want: &hostRequest{URL: "http://h/", Method: "POST", Query: url.Values{},
				Headers: http.Header{"Content-Type": {"application/octet-stream"}}, Body: []byte(`{"target":"a"}`)},
		},
		{
			name:    "trigger under another name",
			payload: `{"Data":{"other":"x","request":{"Method":"GET","Headers":{}}}}`,
			want:    &hostRequest{Method: "GET", Query: url.Values{}, Headers: http.Header{}},
		},
		{name: "no HTTP trigger", payload: `{"Data":{"queueItem":"{}"}}`},
		{name: "Identities not readable", payload: `{"Data":{"req":{"Method":"GET","Url":"u","Identities":5}}}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := decodeInvocation([]byte(tt.payload))
			if err != nil {
				t.Fatal(err)
			}
			got, err := inv.httpRequest()
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v, wantErr %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(hostRequest{})); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzDecodeInvocation feeds the payload decoder what a host, or anything
// posing as one, might send: it must never panic, and whatever it accepts
// must run through a function without panicking.
func FuzzDecodeInvocation(f *testing.F) {
	for _, name := range []string{"negotiate_easyauth", "negotiate_legacy", "messages", "messages_queue", "groups"} {
		b, err := os.ReadFile("testdata/" + name + ".request.json")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"Data":{"req":{"Method":"POST","Url":"u","Headers":{"a":[1,null,{}]},"Query":"[]","Body":[1]}}}`))
	f.Add([]byte(`{"Data":{"x":"W10="}}`))
	f.Add([]byte(`null`))
	h := newTestHandler(f, &fakeService{}, nil)
	f.Fuzz(func(t *testing.T, payload []byte) {
		inv, err := decodeInvocation(payload)
		if err != nil {
			return
		}
		if req, err := inv.httpRequest(); err == nil && req != nil {
			c := &call{id: "fuzz", function: fnNegotiate, http: true, method: req.Method, query: req.Query,
				header: req.Headers, identities: req.Identities, body: req.Body, log: h.log}
			h.userID(c)
			h.claims(c)
		}
		_, _ = inv.triggerData()
	})
}

func TestPrincipalClaims(t *testing.T) {
	tests := []struct {
		name, header string
		want         []hostClaim
	}{
		{"standard base64", "eyJjbGFpbXMiOlt7InR5cCI6ImEiLCJ2YWwiOiIxIn1dfQ==", []hostClaim{{"a", "1"}}},
		{"unpadded", "eyJjbGFpbXMiOlt7InR5cCI6ImEiLCJ2YWwiOiIxIn1dfQ", []hostClaim{{"a", "1"}}},
		{"not base64", "%%%", nil},
		{"not JSON", "aGVsbG8=", nil},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, principalClaims(tt.header)); diff != "" {
				t.Errorf("claims (-want +got):\n%s", diff)
			}
		})
	}
}
