package main

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/signalr-entra/handler/bindings"
)

// functions says what each function can do given the calls' outcomes and
// SIGNALR_NEGOTIATE, as bindings' negotiate behaves.
func (p *probe) functions(c entraCalls) *functionsReport {
	f := &functionsReport{}
	local := functionReport{OK: true, How: fmt.Sprintf("signs client tokens locally with the temporary key from the auth API (SIGNALR_NEGOTIATE=%s)", p.mode)}
	service := functionReport{OK: true, How: fmt.Sprintf("the service signs client tokens (:generateToken, SIGNALR_NEGOTIATE=%s); such tokens carry the user id only", p.mode)}
	if len(p.claimTypes) > 0 {
		service.How += fmt.Sprintf(", so the claims of SIGNALR_CLAIM_TYPES (%s) are left out: assign %q too to sign locally with them", strings.Join(p.claimTypes, ","), roleAppServer)
	}
	switch {
	case p.mode == bindings.NegotiateLocal && c.auth == nil, p.mode == bindings.NegotiateAuto && c.auth == nil:
		f.Negotiate = local
	case p.mode == bindings.NegotiateService && c.gen == nil:
		f.Negotiate = service
	case p.mode == bindings.NegotiateAuto && c.gen == nil && statusOf(c.auth) == http.StatusForbidden:
		// Auto falls back to the service only when the auth API refuses
		// the identity, not when it fails otherwise.
		f.Negotiate = service
		f.Negotiate.How = "the auth API refused the identity, so " + f.Negotiate.How
	case p.mode == bindings.NegotiateLocal:
		f.Negotiate.Why = fmt.Sprintf("SIGNALR_NEGOTIATE=local needs the auth API (%s or %s)", roleAppServer, roleServiceOwner)
	case p.mode == bindings.NegotiateService:
		f.Negotiate.Why = fmt.Sprintf("SIGNALR_NEGOTIATE=service needs :generateToken (%s or %s)", roleRESTOwner, roleServiceOwner)
	default:
		f.Negotiate.Why = fmt.Sprintf("neither the auth API (%s or %s) nor :generateToken (%s or %s) works for this identity", roleAppServer, roleServiceOwner, roleRESTOwner, roleServiceOwner)
	}
	if c.write == nil {
		f.Messages = functionReport{OK: true, How: "REST API with the Entra token"}
	} else {
		f.Messages.Why = fmt.Sprintf("sending needs a REST write permission (%s or %s)", roleRESTOwner, roleServiceOwner)
	}
	f.Groups = f.Messages
	if !f.Groups.OK {
		f.Groups.Why = fmt.Sprintf("group changes need a REST write permission (%s or %s)", roleRESTOwner, roleServiceOwner)
	}
	if c.write == nil && c.read == nil {
		f.Manage = functionReport{OK: true, How: "REST API with the Entra token; " + manageRoles}
	} else {
		f.Manage.Why = "its actions need REST reads and writes: " + manageRoles
	}
	return f
}

// manageRoles names the roles each action of the manage function needs,
// by the data action its REST operation checks.
var manageRoles = fmt.Sprintf("closeConnection needs %s, %s or %s (clientConnection/write); closeConnections %s or %s (hub, user or group write); "+
	"exists and listConnections %s, %s or %s (reads); invoke %s or %s (clientConnection/send)",
	roleAppServer, roleRESTOwner, roleServiceOwner, roleRESTOwner, roleServiceOwner,
	roleRESTReader, roleRESTOwner, roleServiceOwner, roleRESTOwner, roleServiceOwner)

// notNeeded marks a refused way of signing client tokens that negotiate
// does not use, so that its failure does not alarm.
func (p *probe) notNeeded(c entraCalls) {
	if !p.rep.Functions.Negotiate.OK {
		return
	}
	for i := range p.rep.Checks {
		ch := &p.rep.Checks[i]
		switch {
		case ch.OK:
		case ch.Name == checkAuthAPI && c.auth != nil && c.gen == nil && p.mode != bindings.NegotiateLocal:
			ch.Detail += "; not needed: negotiate lets the service sign client tokens"
		case ch.Name == checkGenerateToken && c.gen != nil && c.auth == nil && p.mode != bindings.NegotiateService:
			ch.Detail += "; not needed: negotiate signs client tokens locally"
		}
	}
}

// roles adds the role the identity lacks for the functions that cannot
// work, when the service refused them for want of one (403).
func (p *probe) roles(c entraCalls) {
	f := p.rep.Functions
	needNeg, needMsg := !f.Negotiate.OK, !f.Messages.OK
	negDenied := p.mode != bindings.NegotiateService && statusOf(c.auth) == http.StatusForbidden ||
		p.mode != bindings.NegotiateLocal && statusOf(c.gen) == http.StatusForbidden
	msgDenied := statusOf(c.write) == http.StatusForbidden
	res := checkResult{Name: checkRoles, OK: !needNeg && !needMsg}
	u := p.s.ServiceURI
	switch {
	case res.OK:
		res.Detail = "the identity's roles allow negotiate, messages and groups"
	case needNeg && !negDenied || needMsg && !msgDenied:
		// A failure other than a refusal (network, 5xx, timeout): the
		// checks above say what; a role would not help.
		return
	case needNeg && needMsg:
		res.Detail = "the identity may neither sign client tokens nor write through the REST API"
		why := "it allows negotiate, messages and groups, as serverless mode needs"
		if p.mode != bindings.NegotiateLocal {
			why += fmt.Sprintf("; %q alone would do too, with the service signing client tokens", roleRESTOwner)
		}
		res.Fix = roleFix(u, p.rep.Principal, roleServiceOwner, why)
	case needNeg && p.mode == bindings.NegotiateLocal && c.gen == nil:
		res.Detail = "the identity may not get the temporary key that SIGNALR_NEGOTIATE=local signs with, though the service would sign client tokens for it"
		res.Fix = "Set SIGNALR_NEGOTIATE=auto to let the service sign client tokens, or:\n" + roleFix(u, p.rep.Principal, roleAppServer, "it allows the auth API, to sign client tokens locally")
	case needNeg && p.mode == bindings.NegotiateService:
		res.Detail = "the identity may not ask the service to sign client tokens, as SIGNALR_NEGOTIATE=service does"
		res.Fix = roleFix(u, p.rep.Principal, roleRESTOwner, "it allows :generateToken")
		if c.auth == nil {
			res.Fix = "Set SIGNALR_NEGOTIATE=auto to sign client tokens locally, or:\n" + res.Fix
		}
	case needNeg:
		res.Detail = "the identity may not sign client tokens"
		res.Fix = roleFix(u, p.rep.Principal, roleAppServer, "it allows the auth API, to sign client tokens locally")
	default:
		res.Detail = "the identity may sign client tokens but not write through the REST API: messages and groups cannot work"
		res.Fix = roleFix(u, p.rep.Principal, roleRESTOwner, "it allows the REST API's sends and group changes")
	}
	p.rep.Checks = append(p.rep.Checks, res)
}
