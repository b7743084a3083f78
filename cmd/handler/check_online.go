package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/signalr-entra/handler/bindings"
	"github.com/signalr-entra/handler/settings"
)

// checkOptions are the transports of the online checks. A nil
// *checkOptions means the defaults.
type checkOptions struct {
	// Transport sends the credentials' requests (Entra ID, managed
	// identity). Defaults to azcore's transport.
	Transport policy.Transporter
	// HTTPClient sends the requests to SignalR Service. Defaults to the
	// bindings' client.
	HTTPClient *http.Client
	// OpenIDClient fetches the upstream token check's OpenID
	// configuration. Defaults to the handler's client.
	OpenIDClient *http.Client
}

// checkResult is the outcome of one call of the online check.
type checkResult struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	// Fix says what to do when not OK, with commands to run.
	Fix string `json:"fix,omitempty"`
}

// functionsReport says whether each function of the app can work with an
// endpoint.
type functionsReport struct {
	Negotiate functionReport `json:"negotiate"`
	Messages  functionReport `json:"messages"`
	Groups    functionReport `json:"groups"`
	Manage    functionReport `json:"manage"`
}

type functionReport struct {
	OK bool `json:"ok"`
	// How says how the function works when OK; Why says what it lacks.
	How string `json:"how,omitempty"`
	Why string `json:"why,omitempty"`
}

// Check names, stable for scripts reading -json.
const (
	checkToken         = "token"
	checkCredential    = "credential"
	checkHealth        = "health"
	checkAuthAPI       = "authApi"
	checkRESTRead      = "restRead"
	checkGenerateToken = "generateToken"
	checkRESTWrite     = "restWrite"
	checkTenant        = "tenant"
	checkRoles         = "roles"
	checkScheme        = "scheme"
)

// checkOnline asks Entra ID and every endpoint what the configured
// identities may do, within ctx, and fills r. Endpoints are checked at once.
func checkOnline(ctx context.Context, cfg *settings.Config, opts *checkOptions, timeout time.Duration, r *checkReport) {
	var o checkOptions
	if opts != nil {
		o = *opts
	}
	hc := cfg.Handler
	r.Hub, r.Negotiate = hc.Hubs[0], hc.Negotiate
	bo := hc.Options()
	// The check's own timeout bounds every wait.
	bo.KeyWait = timeout
	if o.HTTPClient != nil {
		bo.Transport = o.HTTPClient
	}
	client, err := bindings.New(settings.Configs(cfg.Endpoints), &bo)
	if err != nil {
		r.Errors = append(r.Errors, err.Error())
		r.OK = false
		return
	}
	defer client.Close()
	var wg sync.WaitGroup
	for i, be := range client.Endpoints() {
		p := &probe{
			s: cfg.Endpoints[i], e: be, rep: &r.Endpoints[i], hub: hc.Hubs[0], user: probeUser(),
			mode: bindings.NegotiateMode(hc.Negotiate), claimTypes: hc.ClaimTypes, timeout: timeout, getenv: os.Getenv,
		}
		wg.Go(func() { p.run(ctx) })
	}
	wg.Wait()
	for _, e := range r.Endpoints {
		f := e.Functions
		if f == nil || !f.Negotiate.OK || !f.Messages.OK || !f.Groups.OK || !f.Manage.OK {
			r.OK = false
		}
	}
}

// schemeWhy is why functions cannot work when the URI's scheme is wrong.
const schemeWhy = "the URI's scheme (http or https) is not the one the service speaks: see the scheme check"

// probeUser is a user id no client has: reading or removing it changes nothing.
func probeUser() string {
	var b [8]byte
	rand.Read(b[:])
	return "handler-check-" + hex.EncodeToString(b[:])
}

// probe checks one endpoint.
type probe struct {
	s          settings.Endpoint
	e          *bindings.Endpoint
	rep        *endpointReport
	hub, user  string
	mode       bindings.NegotiateMode
	claimTypes []string
	timeout    time.Duration
	getenv     func(string) string
	// mismatch is set when the URI's scheme is not the server's.
	mismatch bool
}

func (p *probe) run(ctx context.Context) {
	if p.s.Credential == nil {
		p.runAccessKey(ctx)
		return
	}
	p.runEntra(ctx)
}

// add records one call's outcome: okDetail when err is nil.
func (p *probe) add(name string, err error, okDetail, needs string) *checkResult {
	c := checkResult{Name: name, OK: err == nil, Detail: okDetail}
	if err != nil {
		c.Detail = p.describe(err, needs)
	}
	p.rep.Checks = append(p.rep.Checks, c)
	return &p.rep.Checks[len(p.rep.Checks)-1]
}

// describe is a short account of a failed call: the status and the
// service's ids for a reply, else the cause. needs names the roles that
// allow the call, for a 403; empty for a call that needs none.
func (p *probe) describe(err error, needs string) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("no answer within the check's -timeout (%s): %v", p.timeout, err)
	}
	var be *bindings.Error
	if !errors.As(err, &be) || be.Status == 0 {
		return err.Error()
	}
	s := fmt.Sprintf("%d %s", be.Status, http.StatusText(be.Status))
	if be.Code != "" {
		s += ", error code " + be.Code
	}
	if be.RequestID != "" {
		s += ", request id " + be.RequestID
	}
	switch be.Status {
	case http.StatusForbidden:
		if needs == "" {
			return s + ": this call needs no role (it is signed with the access key, or is the health check), so a network rule of the resource (firewall, private endpoint, public network access disabled) refuses this app; check the resource's Networking settings"
		}
		return s + ": the identity lacks a role that allows this (" + needs + "), or a network rule of the resource refuses it"
	case http.StatusUnauthorized:
		return s + ": the service did not accept the token"
	}
	return s + ": " + be.Message
}

// statusOf is the HTTP status of a failed call, 0 for none.
func statusOf(err error) int {
	var be *bindings.Error
	if errors.As(err, &be) {
		return be.Status
	}
	return 0
}

// runAccessKey checks an access-key endpoint: health, and a REST read
// signed with the key, which every function then relies on.
func (p *probe) runAccessKey(ctx context.Context) {
	if p.checkHealth(ctx); p.mismatch {
		p.schemeMismatch()
		return
	}
	_, err := p.e.UserExists(ctx, p.hub, p.user)
	c := p.add(checkRESTRead, err, fmt.Sprintf("the service accepted a token signed with the access key (HEAD user %s in hub %s)", p.user, p.hub), "")
	var be *bindings.Error
	if errors.As(err, &be) && be.Status == http.StatusUnauthorized {
		// The bindings say what the reply tells of a wrong key or local
		// authentication disabled (a HEAD reply tells neither: both then).
		c.Detail += ". " + be.Message
		c.Fix = localAuthFix(p.s)
	}
	f := &functionsReport{}
	if err == nil {
		f.Negotiate = functionReport{OK: true, How: "signs client tokens with the access key"}
		f.Messages = functionReport{OK: true, How: "REST API, signed with the access key"}
		f.Groups, f.Manage = f.Messages, f.Messages
	} else {
		f.Negotiate = functionReport{Why: "the service refused the access key or could not be reached: see the REST read check"}
		f.Messages, f.Groups, f.Manage = f.Negotiate, f.Negotiate, f.Negotiate
	}
	p.rep.Functions = f
}

// entraCalls are the outcomes of the calls an Entra endpoint is probed with.
type entraCalls struct {
	auth, read, gen, write error
}

// runEntra checks an Entra endpoint: whose token the credential gets, then
// the auth API, a REST read, :generateToken and a harmless REST write.
func (p *probe) runEntra(ctx context.Context) {
	tok, err := p.s.Credential.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{p.s.Scope}})
	if err != nil {
		c := p.add(checkToken, err, "", "")
		c.Detail = fmt.Sprintf("%s (%s) could not get a token for %s: %s", p.s.Auth.Kind, p.s.Auth.Identity(), p.s.Scope, c.Detail)
		if userAssignedNotFound(p.s, err) {
			c.Fix = userAssignedFix(p.s)
		} else if vars := environmentCredentialSet(p.s, p.getenv); len(vars) > 0 {
			c.Fix = environmentCredentialFailedFix(p.s, vars)
		} else if fix := settings.EntraFix(p.s, err, p.getenv); fix != "" {
			c.Fix = fix
		} else {
			c.Fix = fmt.Sprintf("Check the identity settings of %s; the cause above says what Entra ID or the managed identity endpoint answered.", p.s.Setting)
		}
		p.checkHealth(ctx)
		why := "no Microsoft Entra ID token: see the token check"
		p.rep.Functions = &functionsReport{Negotiate: functionReport{Why: why}, Messages: functionReport{Why: why}, Groups: functionReport{Why: why}, Manage: functionReport{Why: why}}
		return
	}
	pr, err := principalOf(tok.Token)
	if err == nil {
		p.rep.Principal = &pr
	}
	p.add(checkToken, err, fmt.Sprintf("%s got a Microsoft Entra ID token for %s (whose: see principal)", p.s.Auth.Kind, p.s.Scope), "")

	health := p.checkHealth(ctx)
	if p.mismatch {
		p.schemeMismatch()
		p.environmentCredential(pr)
		return
	}
	var calls entraCalls
	_, calls.auth = p.e.GetAccessKey(ctx)
	p.add(checkAuthAPI, calls.auth, "the auth API gave a temporary key: client tokens can be signed locally", roleAppServer+" or "+roleServiceOwner)
	_, calls.read = p.e.UserExists(ctx, p.hub, p.user)
	p.add(checkRESTRead, calls.read, fmt.Sprintf("REST read allowed (HEAD user %s in hub %s)", p.user, p.hub), roleRESTReader+", "+roleRESTOwner+" or "+roleServiceOwner)
	_, calls.gen = p.e.GenerateToken(ctx, p.hub, p.user)
	p.add(checkGenerateToken, calls.gen, "the service signs client tokens on request (:generateToken)", roleRESTOwner+" or "+roleServiceOwner)
	calls.write = p.e.RemoveUserFromAllGroups(ctx, p.hub, p.user)
	p.add(checkRESTWrite, calls.write, fmt.Sprintf("REST write allowed (removed user %s, who has no connection, from all groups of hub %s: nothing changed)", p.user, p.hub), roleRESTOwner+" or "+roleServiceOwner)

	p.rep.Functions = p.functions(calls)
	p.notNeeded(calls)
	p.environmentCredential(pr)
	p.diagnose(calls, health, pr)
}

// environmentCredential names the app registration of the AZURE_* variables
// when it signed in inside DefaultAzureCredential instead of the managed
// identity; the check passes only if every function works anyway.
func (p *probe) environmentCredential(pr principalReport) {
	envVars := environmentCredentialWon(p.s, pr, p.getenv)
	if len(envVars) == 0 {
		return
	}
	f := p.rep.Functions
	p.rep.Checks = append(p.rep.Checks, checkResult{
		Name: checkCredential, OK: f.Negotiate.OK && f.Messages.OK && f.Groups.OK && f.Manage.OK,
		Detail: fmt.Sprintf("EnvironmentCredential answered inside DefaultAzureCredential: %s is set and the token's app id is AZURE_CLIENT_ID (%s), so the app registration of the AZURE_* variables signs in, not the managed identity",
			strings.Join(envVars, ", "), pr.AppID),
		Fix: environmentCredentialFix(p.s, envVars),
	})
}

// diagnose explains why functions cannot work: an unreachable service, a
// token from the wrong tenant, or roles.
func (p *probe) diagnose(calls entraCalls, health error, pr principalReport) {
	// Neither tenant nor roles can be judged without the service, or
	// without its answers.
	if health != nil && !errors.Is(health, context.DeadlineExceeded) {
		p.failing("the service did not answer its health check: see the health check")
		return
	}
	for _, err := range []error{health, calls.auth, calls.read, calls.gen, calls.write} {
		if errors.Is(err, context.DeadlineExceeded) {
			p.failing(fmt.Sprintf("the check ran out of time (-timeout %s) before it could tell: see the checks above, or give it more time", p.timeout))
			return
		}
	}
	for _, err := range []error{calls.auth, calls.read, calls.gen, calls.write} {
		if statusOf(err) == http.StatusUnauthorized {
			p.rep.Checks = append(p.rep.Checks, checkResult{
				Name: checkTenant,
				Detail: fmt.Sprintf("the service answered 401 to the token from tenant %s: the SignalR resource is in another tenant, or in another cloud than the authority host (%s)",
					orUnknown(pr.TenantID), orPublicCloud(p.s.Auth.AuthorityHost)),
				Fix: crossTenantFix(p.s, p.rep.Principal),
			})
			p.failing("the service did not accept the token (401): see the tenant check")
			return
		}
	}
	p.roles(calls)
}

// schemeMismatch ends the probe of an endpoint whose URI has the wrong
// scheme: every other call goes to the same address and would fail the
// same way, after the retries of the auth API (about 10 s).
func (p *probe) schemeMismatch() {
	p.rep.Checks[len(p.rep.Checks)-1].Detail += "; the other calls, to the same address, were not tried"
	why := functionReport{Why: schemeWhy}
	p.rep.Functions = &functionsReport{Negotiate: why, Messages: why, Groups: why, Manage: why}
}

// failing gives every function that cannot work the same reason.
func (p *probe) failing(why string) {
	f := p.rep.Functions
	for _, fn := range []*functionReport{&f.Negotiate, &f.Messages, &f.Groups, &f.Manage} {
		if !fn.OK {
			fn.Why = why
		}
	}
}

// orPublicCloud names the authority host an empty setting means.
func orPublicCloud(s string) string {
	if s == "" {
		return "the public cloud's login.microsoftonline.com"
	}
	return s
}
