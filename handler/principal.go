package handler

import (
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/signalr-entra/handler/bindings"
	"github.com/signalr-entra/handler/internal/hostproto"
)

const (
	// nameIdentifierClaim names the user in App Service Authentication's
	// claims and in the host's Identities.
	nameIdentifierClaim = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier"
	// authLevelIdentity is the identity the host adds for a function or
	// admin key; it says nothing about a user.
	authLevelIdentity = "WebJobsAuthLevel"

	principalIDHeader = "X-Ms-Client-Principal-Id"
	principalHeader   = "X-Ms-Client-Principal"
	// maxPrincipalHeader bounds the base64 principal we decode; App Service
	// headers stay far below it.
	maxPrincipalHeader = 64 << 10
)

// clientPrincipal is the JSON inside App Service Authentication's
// X-MS-CLIENT-PRINCIPAL header.
type clientPrincipal struct {
	Claims []struct {
		Typ string `json:"typ"`
		Val string `json:"val"`
	} `json:"claims"`
}

// userID names the user from App Service Authentication, when it is on: its
// principal id header, the host's Identities, or its principal header. Only
// when none names a user, and only when the app trusts one, is a plain
// header used.
func (h *Handler) userID(c *call) string {
	if h.appService {
		if id := strings.TrimSpace(c.header.Get(principalIDHeader)); id != "" {
			return id
		}
		for _, cl := range userClaims(c) {
			if cl.Type == nameIdentifierClaim && cl.Value != "" {
				return cl.Value
			}
		}
	}
	if h.userIDHeader != "" {
		return strings.TrimSpace(c.header.Get(h.userIDHeader))
	}
	return ""
}

// claims are the user's claims of the types the app copies into tokens.
func (h *Handler) claims(c *call) []bindings.Claim {
	if len(h.claimTypes) == 0 || !h.appService {
		return nil
	}
	var out []bindings.Claim
	seen := map[bindings.Claim]bool{}
	for _, cl := range userClaims(c) {
		bc := bindings.Claim{Type: cl.Type, Value: cl.Value}
		if !h.claimTypes[strings.ToLower(cl.Type)] || seen[bc] {
			continue
		}
		seen[bc] = true
		out = append(out, bc)
	}
	return out
}

// userClaims are the claims of the signed-in user: the host's Identities
// (but not the key identity), then App Service's principal header, which
// holds the same claims when the host built Identities from it.
func userClaims(c *call) []hostproto.Claim {
	var out []hostproto.Claim
	for _, id := range c.identities {
		if id.AuthenticationType == authLevelIdentity {
			continue
		}
		out = append(out, id.Claims...)
	}
	return append(out, principalClaims(c.header.Get(principalHeader))...)
}

// principalClaims decodes X-MS-CLIENT-PRINCIPAL; a header that does not
// decode names no one.
func principalClaims(v string) []hostproto.Claim {
	v = strings.TrimSpace(v)
	if v == "" || len(v) > maxPrincipalHeader {
		return nil
	}
	var raw []byte
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(v); err == nil {
			raw = b
			break
		}
	}
	var p clientPrincipal
	if raw == nil || json.Unmarshal(raw, &p) != nil {
		return nil
	}
	out := make([]hostproto.Claim, 0, len(p.Claims))
	for _, cl := range p.Claims {
		out = append(out, hostproto.Claim{Type: cl.Typ, Value: cl.Val})
	}
	return out
}
