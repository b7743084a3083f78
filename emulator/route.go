package emulator

import (
	"net/http"
	"regexp"
	"strings"
)

// hubPattern is the service's rule for hub (and application) names.
var hubPattern = regexp.MustCompile("^[A-Za-z][A-Za-z0-9_`,.\\[\\]]{0,127}$")

// route holds the names in a REST request's path.
type route struct {
	hub, group, user, connection string
}

// restOp is one operation of the REST API: its method and path after
// /api/hubs/ as an http.ServeMux pattern, operation id, data action, fault
// kind and success status.
type restOp struct {
	method  string
	pattern string
	op      string
	action  string
	kind    Kind
	status  int
}

// restOps are the operations of REST API 2024-12-01 the stand-in plays
// (Azure/azure-signalr docs/swagger/v20241201.json).
var restOps = []restOp{
	{http.MethodPost, "{hub}/:send", "SignalR_Broadcast", actionHubSend, RESTSend, http.StatusAccepted},
	{http.MethodPost, "{hub}/:closeConnections", "SignalR_CloseConnections", actionHubWrite, RESTOther, http.StatusNoContent},
	{http.MethodPost, "{hub}/:generateToken", "HubProxyV20221101_GenerateClientToken", actionClientToken, GenerateToken, http.StatusOK},
	{http.MethodPost, "{hub}/users/{user}/:send", "SignalR_SendToUser", actionUserSend, RESTSend, http.StatusAccepted},
	{http.MethodPost, "{hub}/users/{user}/:closeConnections", "SignalR_CloseUserConnections", actionUserWrite, RESTOther, http.StatusNoContent},
	{http.MethodHead, "{hub}/users/{user}", "SignalR_CheckUserExistence", actionUserRead, RESTOther, http.StatusOK},
	{http.MethodDelete, "{hub}/users/{user}/groups", "SignalR_RemoveUserFromAllGroups", actionUserWrite, RESTOther, http.StatusNoContent},
	{http.MethodPut, "{hub}/users/{user}/groups/{group}", "SignalR_AddUserToGroup", actionUserWrite, RESTOther, http.StatusOK},
	{http.MethodDelete, "{hub}/users/{user}/groups/{group}", "SignalR_RemoveUserFromGroup", actionUserWrite, RESTOther, http.StatusNoContent},
	{http.MethodHead, "{hub}/users/{user}/groups/{group}", "SignalR_CheckUserExistenceInGroup", actionUserRead, RESTOther, http.StatusOK},
	{http.MethodPost, "{hub}/groups/{group}/:send", "SignalR_GroupBroadcast", actionGroupSend, RESTSend, http.StatusAccepted},
	{http.MethodPost, "{hub}/groups/{group}/:closeConnections", "SignalR_CloseGroupConnections", actionGroupWrite, RESTOther, http.StatusNoContent},
	{http.MethodHead, "{hub}/groups/{group}", "SignalR_CheckGroupExistence", actionGroupRead, RESTOther, http.StatusOK},
	{http.MethodGet, "{hub}/groups/{group}/connections", "HubProxyV20241201_ListConnectionsInGroup", actionGroupRead, RESTOther, http.StatusOK},
	{http.MethodPut, "{hub}/groups/{group}/connections/{connection}", "SignalR_AddConnectionToGroup", actionGroupWrite, RESTOther, http.StatusOK},
	{http.MethodDelete, "{hub}/groups/{group}/connections/{connection}", "SignalR_RemoveConnectionFromGroup", actionGroupWrite, RESTOther, http.StatusOK},
	{http.MethodHead, "{hub}/connections/{connection}", "SignalR_CheckConnectionExistence", actionConnectionRead, RESTOther, http.StatusOK},
	{http.MethodDelete, "{hub}/connections/{connection}", "SignalR_CloseConnection", actionConnWrite, RESTOther, http.StatusOK},
	{http.MethodPost, "{hub}/connections/{connection}/:send", "SignalR_SendToConnection", actionConnectionSend, RESTSend, http.StatusAccepted},
	{http.MethodPost, "{hub}/connections/{connection}/:invoke", "HubProxyV20241201_InvokeClientConnection", actionConnectionSend, RESTOther, http.StatusOK},
	{http.MethodDelete, "{hub}/connections/{connection}/groups", "SignalR_RemoveConnectionFromAllGroups", actionConnWrite, RESTOther, http.StatusOK},
}

// routeREST registers the REST operations on mux. Each path also answers
// its other methods with 405, and any other path under /api/hubs/ with
// 404, in the service's error body rather than the mux's plain text.
func (s *Server) routeREST(mux *http.ServeMux) {
	paths := map[string]bool{}
	for i := range restOps {
		op := &restOps[i]
		path := "/api/hubs/" + op.pattern
		mux.HandleFunc(op.method+" "+path, func(w http.ResponseWriter, r *http.Request) { s.rest(w, r, op) })
		if !paths[path] {
			paths[path] = true
			mux.HandleFunc(path, methodNotAllowed)
		}
	}
	mux.HandleFunc("/api/hubs/", noOperation)
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusMethodNotAllowed, "", "MethodNotAllowed", r.Method+" is not allowed on "+r.URL.Path)
}

func noOperation(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotFound, "", "NotFound", "no REST operation at "+r.Method+" "+r.URL.Path)
}

// routeOf reads the names in the request's path, which the mux has
// unescaped segment by segment, so ids may hold "/" as %2F. ok is false
// when a name in the pattern is empty.
func routeOf(r *http.Request, op *restOp) (rt route, ok bool) {
	rt = route{hub: r.PathValue("hub"), group: r.PathValue("group"), user: r.PathValue("user"), connection: r.PathValue("connection")}
	for name, v := range map[string]string{"hub": rt.hub, "group": rt.group, "user": rt.user, "connection": rt.connection} {
		if v == "" && strings.Contains(op.pattern, "{"+name+"}") {
			return rt, false
		}
	}
	return rt, true
}
