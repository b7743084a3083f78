package emulator

import (
	"fmt"
	"strings"
)

// Role is a built-in Azure role that grants data actions on a SignalR
// resource. The values are the short names the command line accepts.
type Role string

// The built-in roles of SignalR Service (SPEC §1).
const (
	AppServer       Role = "AppServer"
	ServiceOwner    Role = "ServiceOwner"
	RESTAPIOwner    Role = "RESTAPIOwner"
	RESTAPIReader   Role = "RESTAPIReader"
	AccessKeyReader Role = "AccessKeyReader"
)

// actionPrefix starts every SignalR data action.
const actionPrefix = "Microsoft.SignalRService/SignalR/"

// Data actions the service checks, without actionPrefix.
const (
	actionAccessKey      = "auth/accessKey/action"
	actionClientToken    = "auth/clientToken/action"
	actionHubSend        = "hub/send/action"
	actionHubWrite       = "hub/write"
	actionGroupSend      = "group/send/action"
	actionGroupRead      = "group/read"
	actionGroupWrite     = "group/write"
	actionConnectionSend = "clientConnection/send/action"
	actionConnectionRead = "clientConnection/read"
	actionConnWrite      = "clientConnection/write"
	actionUserSend       = "user/send/action"
	actionUserRead       = "user/read"
	actionUserWrite      = "user/write"
)

type roleInfo struct {
	display      string
	definitionID string
	dataActions  []string // patterns under actionPrefix; "x/*" matches below x
}

var roleTable = map[Role]roleInfo{
	AppServer: {"SignalR App Server", "420fcaa2-552c-430f-98ca-3264be4806c7",
		[]string{actionAccessKey, "serverConnection/write", actionConnWrite}},
	ServiceOwner: {"SignalR Service Owner", "7e4f1700-ea5a-4f59-8f37-079cfe29dce3",
		[]string{"*"}},
	RESTAPIOwner: {"SignalR REST API Owner", "fd53cd77-2268-407a-8f46-7e7863d0f521",
		[]string{actionClientToken, "hub/*", "group/*", "clientConnection/*", "user/*"}},
	RESTAPIReader: {"SignalR REST API Reader", "ddde6b66-c0df-4114-a159-3618637b3035",
		[]string{actionGroupRead, actionConnectionRead, actionUserRead}},
	AccessKeyReader: {"SignalR AccessKey Reader", "04165923-9d83-45d5-8227-78b77b0a687e", nil},
}

// roleOrder lists roles in the order messages name them.
var roleOrder = []Role{AppServer, ServiceOwner, RESTAPIOwner, RESTAPIReader, AccessKeyReader}

// Roles returns every built-in role, in the order messages name them.
func Roles() []Role { return append([]Role(nil), roleOrder...) }

// ParseRole reads a role by its short name, its display name or its role
// definition id, ignoring case and spaces.
func ParseRole(s string) (Role, error) {
	key := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), " ", ""))
	for _, r := range roleOrder {
		info := roleTable[r]
		if key == strings.ToLower(string(r)) || key == strings.ToLower(strings.ReplaceAll(info.display, " ", "")) || key == info.definitionID {
			return r, nil
		}
	}
	return "", fmt.Errorf("invalid role %q. Valid roles are %s, or a role definition id", s, roleNames())
}

// roleNames lists the roles' short names, comma-separated.
func roleNames() string {
	names := make([]string, len(roleOrder))
	for i, r := range roleOrder {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}

// String returns the role's display name, such as "SignalR App Server".
func (r Role) String() string {
	if info, ok := roleTable[r]; ok {
		return info.display
	}
	return string(r)
}

// DefinitionID returns the role definition id of the built-in role.
func (r Role) DefinitionID() string { return roleTable[r].definitionID }

// allows reports whether the role grants the data action.
func (r Role) allows(action string) bool {
	for _, p := range roleTable[r].dataActions {
		if p == "*" || p == action || (strings.HasSuffix(p, "/*") && strings.HasPrefix(action, strings.TrimSuffix(p, "*"))) {
			return true
		}
	}
	return false
}

// rolesAllowing names the roles that grant the data action, for 403 messages.
func rolesAllowing(action string) []string {
	var names []string
	for _, r := range roleOrder {
		if r.allows(action) {
			names = append(names, r.String())
		}
	}
	return names
}
