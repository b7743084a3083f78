package emulator

import (
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// PrincipalKind says what sort of Entra principal a Principal is.
type PrincipalKind string

// Kinds of principals.
const (
	SystemAssignedIdentity PrincipalKind = "SystemAssignedIdentity"
	UserAssignedIdentity   PrincipalKind = "UserAssignedIdentity"
	Application            PrincipalKind = "Application"
)

// Principal is a service principal in one tenant. Role assignments are
// keyed by its ObjectID, as in Azure.
type Principal struct {
	Kind     PrincipalKind
	TenantID string
	// ClientID is the application (client) id; an app provisioned in
	// several tenants has one ClientID and one ObjectID per tenant.
	ClientID string
	ObjectID string
	// ResourceID is the Azure resource id of a user-assigned identity.
	ResourceID string
}

// UserIdentity describes a user-assigned managed identity. Empty ids are
// generated.
type UserIdentity struct {
	ClientID   string
	ObjectID   string
	ResourceID string
	Roles      []Role
}

// App describes an app registration with its credentials. TenantID
// defaults to the server's tenant.
type App struct {
	TenantID string
	ClientID string
	ObjectID string
	// Secret is the client secret; empty means none.
	Secret string
	// Certificate is the public certificate whose key signs client
	// assertions; nil means none. It must hold an RSA key.
	Certificate *x509.Certificate
	Roles       []Role
}

type appPrincipal struct {
	Principal
	secret string
	cert   *x509.Certificate
}

type assignment struct {
	role        Role
	effectiveAt time.Time
}

// directory is the emulated Entra ID: principals per tenant and the role
// assignments on the one SignalR resource.
type directory struct {
	mu          sync.Mutex
	system      Principal // the app's system-assigned identity
	service     Principal // the SignalR resource's own identity
	users       []Principal
	apps        []*appPrincipal
	assignments map[string][]assignment // by object id
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func orNew(id string) string {
	if id == "" {
		return newUUID()
	}
	return id
}

// SystemIdentity returns the server's system-assigned managed identity.
func (s *Server) SystemIdentity() Principal { return s.dir.system }

// AddUserIdentity registers a user-assigned managed identity in the
// server's tenant and assigns it roles.
func (s *Server) AddUserIdentity(u UserIdentity) (Principal, error) {
	p := Principal{Kind: UserAssignedIdentity, TenantID: s.TenantID, ClientID: orNew(u.ClientID), ObjectID: orNew(u.ObjectID), ResourceID: u.ResourceID}
	if p.ResourceID == "" {
		p.ResourceID = "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/emulator/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" + p.ClientID
	}
	d := &s.dir
	d.mu.Lock()
	for _, q := range d.users {
		if strings.EqualFold(q.ClientID, p.ClientID) || strings.EqualFold(q.ObjectID, p.ObjectID) || strings.EqualFold(q.ResourceID, p.ResourceID) {
			d.mu.Unlock()
			return Principal{}, fmt.Errorf("emulator: user-assigned identity with client id %q is already registered (ids must be unique)", p.ClientID)
		}
	}
	d.users = append(d.users, p)
	d.mu.Unlock()
	s.Assign(p.ObjectID, u.Roles...)
	return p, nil
}

// AddApplication registers an app (a service principal) in a tenant. To
// model a multitenant app provisioned in another tenant, add it again with
// the same ClientID and the other TenantID: each gets its own ObjectID.
func (s *Server) AddApplication(a App) (Principal, error) {
	if a.ClientID == "" {
		return Principal{}, fmt.Errorf("emulator: App.ClientID is empty; give the application (client) id")
	}
	if a.Secret == "" && a.Certificate == nil {
		return Principal{}, fmt.Errorf("emulator: application %q has neither Secret nor Certificate; give at least one", a.ClientID)
	}
	p := &appPrincipal{
		Principal: Principal{Kind: Application, TenantID: a.TenantID, ClientID: a.ClientID, ObjectID: orNew(a.ObjectID)},
		secret:    a.Secret, cert: a.Certificate,
	}
	if p.TenantID == "" {
		p.TenantID = s.TenantID
	}
	d := &s.dir
	d.mu.Lock()
	if d.app(p.TenantID, p.ClientID) != nil {
		d.mu.Unlock()
		return Principal{}, fmt.Errorf("emulator: application %q is already registered in tenant %q", a.ClientID, p.TenantID)
	}
	d.apps = append(d.apps, p)
	d.mu.Unlock()
	s.Assign(p.ObjectID, a.Roles...)
	return p.Principal, nil
}

// app finds an app by tenant and client id; d.mu must be held.
func (d *directory) app(tenant, clientID string) *appPrincipal {
	for _, a := range d.apps {
		if strings.EqualFold(a.TenantID, tenant) && strings.EqualFold(a.ClientID, clientID) {
			return a
		}
	}
	return nil
}

// tenantKnown reports whether any principal lives in the tenant.
func (d *directory) tenantKnown(tenant string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if strings.EqualFold(tenant, d.system.TenantID) {
		return true
	}
	return slices.ContainsFunc(d.apps, func(a *appPrincipal) bool { return strings.EqualFold(a.TenantID, tenant) })
}

// identity finds a managed identity by the selector App Service's endpoint
// takes: none (system-assigned), client_id, mi_res_id or object_id.
func (d *directory) identity(clientID, resourceID, objectID string) (Principal, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if clientID == "" && resourceID == "" && objectID == "" {
		return d.system, true
	}
	for _, u := range d.users {
		if (clientID != "" && strings.EqualFold(u.ClientID, clientID)) ||
			(resourceID != "" && strings.EqualFold(u.ResourceID, resourceID)) ||
			(objectID != "" && strings.EqualFold(u.ObjectID, objectID)) {
			return u, true
		}
	}
	return Principal{}, false
}

// find looks a principal up by object id, then by client id (preferring
// the given tenant), for Credential.
func (d *directory) find(id, tenant string) (Principal, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	all := append([]Principal{d.system}, d.users...)
	for _, a := range d.apps {
		all = append(all, a.Principal)
	}
	for _, p := range all {
		if strings.EqualFold(p.ObjectID, id) {
			return p, true
		}
	}
	var found *Principal
	for i, p := range all {
		if strings.EqualFold(p.ClientID, id) && (found == nil || strings.EqualFold(p.TenantID, tenant)) {
			found = &all[i]
		}
	}
	if found == nil {
		return Principal{}, false
	}
	return *found, true
}

// Assign gives the principal with the object id roles on the SignalR
// resource. They take effect after Options.Propagation on the server's clock.
func (s *Server) Assign(objectID string, roles ...Role) {
	at := s.Now().Add(s.opts.Propagation)
	d := &s.dir
	d.mu.Lock()
	defer d.mu.Unlock()
	key := strings.ToLower(objectID)
	for _, r := range roles {
		d.assignments[key] = append(d.assignments[key], assignment{role: r, effectiveAt: at})
	}
}

// Unassign removes roles from the principal at once; no roles removes all.
func (s *Server) Unassign(objectID string, roles ...Role) {
	d := &s.dir
	d.mu.Lock()
	defer d.mu.Unlock()
	key := strings.ToLower(objectID)
	if len(roles) == 0 {
		delete(d.assignments, key)
		return
	}
	d.assignments[key] = slices.DeleteFunc(d.assignments[key], func(a assignment) bool { return slices.Contains(roles, a.role) })
}

// allowed reports whether the principal holds a role granting the action at now.
func (d *directory) allowed(objectID, action string, now time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, a := range d.assignments[strings.ToLower(objectID)] {
		if !now.Before(a.effectiveAt) && a.role.allows(action) {
			return true
		}
	}
	return false
}
