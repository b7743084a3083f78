package emulator

import (
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// hubPattern is the service's rule for hub (and application) names.
var hubPattern = regexp.MustCompile("^[A-Za-z][A-Za-z0-9_`,.\\[\\]]{0,127}$")

// route is a REST request matched to an operation of the REST API.
type route struct {
	op                           string // operation id in the REST API description
	hub, group, user, connection string
}

// restOp is one operation: its path after /api/hubs, methods, data action
// and fault kind.
type restOp struct {
	pattern string
	method  string
	op      string
	action  string
	kind    Kind
	status  int // success status
}

var restOps = []restOp{
	{"{hub}/:send", http.MethodPost, "SignalR_Broadcast", actionHubSend, RESTSend, http.StatusAccepted},
	{"{hub}/:closeConnections", http.MethodPost, "SignalR_CloseConnections", actionHubWrite, RESTOther, http.StatusNoContent},
	{"{hub}/:generateToken", http.MethodPost, "HubProxyV20221101_GenerateClientToken", actionClientToken, GenerateToken, http.StatusOK},
	{"{hub}/users/{user}/:send", http.MethodPost, "SignalR_SendToUser", actionUserSend, RESTSend, http.StatusAccepted},
	{"{hub}/users/{user}/:closeConnections", http.MethodPost, "SignalR_CloseUserConnections", actionUserWrite, RESTOther, http.StatusNoContent},
	{"{hub}/users/{user}", http.MethodHead, "SignalR_CheckUserExistence", actionUserRead, RESTOther, http.StatusOK},
	{"{hub}/users/{user}/groups", http.MethodDelete, "SignalR_RemoveUserFromAllGroups", actionUserWrite, RESTOther, http.StatusNoContent},
	{"{hub}/users/{user}/groups/{group}", http.MethodPut, "SignalR_AddUserToGroup", actionUserWrite, RESTOther, http.StatusOK},
	{"{hub}/users/{user}/groups/{group}", http.MethodDelete, "SignalR_RemoveUserFromGroup", actionUserWrite, RESTOther, http.StatusNoContent},
	{"{hub}/users/{user}/groups/{group}", http.MethodHead, "SignalR_CheckUserExistenceInGroup", actionUserRead, RESTOther, http.StatusOK},
	{"{hub}/groups/{group}/:send", http.MethodPost, "SignalR_GroupBroadcast", actionGroupSend, RESTSend, http.StatusAccepted},
	{"{hub}/groups/{group}/:closeConnections", http.MethodPost, "SignalR_CloseGroupConnections", actionGroupWrite, RESTOther, http.StatusNoContent},
	{"{hub}/groups/{group}", http.MethodHead, "SignalR_CheckGroupExistence", actionGroupRead, RESTOther, http.StatusOK},
	{"{hub}/groups/{group}/connections/{connection}", http.MethodPut, "SignalR_AddConnectionToGroup", actionGroupWrite, RESTOther, http.StatusOK},
	{"{hub}/groups/{group}/connections/{connection}", http.MethodDelete, "SignalR_RemoveConnectionFromGroup", actionGroupWrite, RESTOther, http.StatusOK},
	{"{hub}/connections/{connection}", http.MethodHead, "SignalR_CheckConnectionExistence", actionConnectionRead, RESTOther, http.StatusOK},
	{"{hub}/connections/{connection}", http.MethodDelete, "SignalR_CloseConnection", actionConnWrite, RESTOther, http.StatusOK},
	{"{hub}/connections/{connection}/:send", http.MethodPost, "SignalR_SendToConnection", actionConnectionSend, RESTSend, http.StatusAccepted},
	{"{hub}/connections/{connection}/groups", http.MethodDelete, "SignalR_RemoveConnectionFromAllGroups", actionConnWrite, RESTOther, http.StatusOK},
}

var (
	errNoRoute   = errors.New("no such REST operation")
	errNoMethod  = errors.New("method not allowed for this REST operation")
	restOpsByKey = map[string]*restOp{}
)

func init() {
	for i := range restOps {
		restOpsByKey[restOps[i].op] = &restOps[i]
	}
}

// parseRoute matches an escaped path under /api/hubs/ to an operation.
// Path segments are unescaped one by one, so ids may hold "/" as %2F.
func parseRoute(method, escapedPath string) (route, error) {
	rest, ok := strings.CutPrefix(escapedPath, "/api/hubs/")
	if !ok {
		return route{}, errNoRoute
	}
	segs := strings.Split(rest, "/")
	for i, seg := range segs {
		v, err := url.PathUnescape(seg)
		if err != nil || v == "" {
			return route{}, errNoRoute
		}
		segs[i] = v
	}
	found := false
	for _, op := range restOps {
		r, ok := match(op.pattern, segs)
		if !ok {
			continue
		}
		found = true
		if op.method == method {
			r.op = op.op
			return r, nil
		}
	}
	if found {
		return route{}, errNoMethod
	}
	return route{}, errNoRoute
}

// match fills a route from segments that fit the pattern.
func match(pattern string, segs []string) (route, bool) {
	parts := strings.Split(pattern, "/")
	if len(parts) != len(segs) {
		return route{}, false
	}
	var r route
	for i, p := range parts {
		switch p {
		case "{hub}":
			r.hub = segs[i]
		case "{user}":
			r.user = segs[i]
		case "{group}":
			r.group = segs[i]
		case "{connection}":
			r.connection = segs[i]
		default:
			if p != segs[i] {
				return route{}, false
			}
		}
	}
	return r, true
}
