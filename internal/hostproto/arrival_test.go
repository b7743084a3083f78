package hostproto

import (
	"net/http/httptest"
	"testing"
)

func TestArrivalOf(t *testing.T) {
	const id = "6a1f2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
	for _, tc := range []struct {
		name   string
		header map[string]string
		want   Arrival
	}{
		{"standalone", map[string]string{"User-Agent": "curl/8"}, Direct},
		{"proxied", map[string]string{InvocationIDHeader: id, HostVersionHeader: "4.1045.0", "x-ms-invocation-id": id, "User-Agent": "curl/8"}, Proxied},
		{"forwarded", map[string]string{InvocationIDHeader: id, HostVersionHeader: "4.1045.0", "User-Agent": "curl/8 Azure-Functions-Host/4.1045.0"}, Forwarded},
		{"an invocation id alone", map[string]string{InvocationIDHeader: id}, Direct},
		{"correlation ids that differ", map[string]string{InvocationIDHeader: id, HostVersionHeader: "4", "x-ms-invocation-id": "other"}, Direct},
	} {
		r := httptest.NewRequest("POST", "/api/messages", nil)
		for k, v := range tc.header {
			r.Header.Set(k, v)
		}
		if got := ArrivalOf(r); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
