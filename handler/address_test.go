package handler

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestAddressNeverWidened posts the bodies whose address, read the way
// encoding/json reads it, would reach more clients than named: each gets
// 400 naming the field, and nothing is sent.
func TestAddressNeverWidened(t *testing.T) {
	for _, tt := range []struct{ path, body, want string }{
		{"/api/messages", `{"userId":"alice","USERID":"","target":"t"}`, `userId is given twice`},
		{"/api/messages", `{"userId":"alice","userId":"bob","target":"t"}`, `userId is given twice`},
		{"/api/messages", `{"groupName":"admins","GroupName":"","target":"t"}`, `groupName is given twice`},
		{"/api/messages", `{"userId":"","target":"t"}`, `userId is empty`},
		{"/api/messages", `{"groupName":"","target":"t"}`, `groupName is empty`},
		{"/api/groups", `{"action":"add","userId":"alice","UserId":"","groupName":"admins"}`, `userId is given twice`},
		{"/api/groups", `{"action":"add","connectionId":"c1","userId":"","groupName":"admins"}`, `userId is empty`},
	} {
		svc := &fakeService{}
		h := newTestHandler(t, svc, nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", tt.path, strings.NewReader(tt.body)))
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), tt.want) {
			t.Errorf("%s %s: %d %s, want 400 saying %q", tt.path, tt.body, rec.Code, rec.Body, tt.want)
		}
		if svc.calls != 0 {
			t.Errorf("%s %s: %d calls to the service, want none", tt.path, tt.body, svc.calls)
		}
	}
	// null still means not set.
	svc := &fakeService{}
	rec := httptest.NewRecorder()
	newTestHandler(t, svc, nil).ServeHTTP(rec, httptest.NewRequest("POST", "/api/messages", strings.NewReader(`{"userId":null,"groupName":"admins","target":"t"}`)))
	if rec.Code != http.StatusAccepted || len(svc.sent) != 1 || svc.sent[0].GroupName != "admins" || svc.sent[0].UserID != "" {
		t.Errorf("null userId: %d %s, sent %+v; want 202 to the group", rec.Code, rec.Body, svc.sent)
	}
}
