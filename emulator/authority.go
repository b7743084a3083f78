package emulator

import (
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// entraError is the body of Entra ID's token endpoint errors.
type entraError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	Timestamp        string `json:"timestamp"`
	TraceID          string `json:"trace_id"`
	CorrelationID    string `json:"correlation_id"`
	ErrorURI         string `json:"error_uri,omitempty"`
}

func (s *Server) authorityHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", s.openIDConfiguration)
	mux.HandleFunc("GET /{tenant}/.well-known/openid-configuration", s.openIDConfigurationV1)
	mux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", s.keySet)
	mux.HandleFunc("GET /{tenant}/discovery/keys", s.keySet)
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", s.authorityToken)
	mux.HandleFunc("POST /{tenant}/emulator/user-token", s.userTokenEndpoint)
	return mux
}

// oauthFail writes an Entra error with an OAuth error code.
func (s *Server) oauthFail(w http.ResponseWriter, status int, oauthCode string, aadsts int, format string, args ...any) {
	writeJSON(w, status, entraError{
		Error:            oauthCode,
		ErrorDescription: fmt.Sprintf("AADSTS%d: ", aadsts) + fmt.Sprintf(format, args...),
		ErrorCodes:       []int{aadsts},
		Timestamp:        s.Now().UTC().Format("2006-01-02 15:04:05Z"),
		TraceID:          newUUID(),
		CorrelationID:    newUUID(),
		ErrorURI:         fmt.Sprintf("%serror?code=%d", s.AuthorityURL, aadsts),
	})
}

func (s *Server) unknownTenant(w http.ResponseWriter, tenant string) {
	s.oauthFail(w, http.StatusBadRequest, "invalid_tenant", 90002,
		"Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tenant)
}

func (s *Server) openIDConfiguration(w http.ResponseWriter, r *http.Request) {
	tenant := r.PathValue("tenant")
	if !s.dir.tenantKnown(tenant) {
		s.unknownTenant(w, tenant)
		return
	}
	base := s.AuthorityURL + tenant
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                s.issuer(tenant),
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"device_authorization_endpoint":         base + "/oauth2/v2.0/devicecode",
		"end_session_endpoint":                  base + "/oauth2/v2.0/logout",
		"jwks_uri":                              base + "/discovery/v2.0/keys",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"tenant_region_scope":                   "NA",
		"cloud_instance_name":                   "emulator",
	})
}

// openIDConfigurationV1 is the tenant's v1 document, whose issuer is the
// iss of v1.0 access tokens such as the service's upstream tokens. As in
// Entra ID, its keys are the common ones.
func (s *Server) openIDConfigurationV1(w http.ResponseWriter, r *http.Request) {
	tenant := r.PathValue("tenant")
	if !s.dir.tenantKnown(tenant) {
		s.unknownTenant(w, tenant)
		return
	}
	base := s.AuthorityURL + tenant
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                s.issuerV1(tenant),
		"token_endpoint":                        base + "/oauth2/token",
		"authorization_endpoint":                base + "/oauth2/authorize",
		"end_session_endpoint":                  base + "/oauth2/logout",
		"jwks_uri":                              s.AuthorityURL + "common/discovery/keys",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "token id_token", "token"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"tenant_region_scope":                   "NA",
		"cloud_instance_name":                   "emulator",
	})
}

// jwk is one published key of a key set.
type jwk struct {
	Kty string `json:"kty"`
	Use string `json:"use"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
}

// keySet publishes the token signing keys, so anyone can verify tokens.
// The keys are the same for every tenant, as Entra ID's are.
func (s *Server) keySet(w http.ResponseWriter, r *http.Request) {
	enc := base64.RawURLEncoding.EncodeToString
	var keys []jwk
	for _, k := range s.signing.published() {
		pub := k.key.PublicKey
		keys = append(keys, jwk{Kty: "RSA", Use: "sig", Kid: k.kid, Alg: "RS256",
			N: enc(pub.N.Bytes()), E: enc(big.NewInt(int64(pub.E)).Bytes())})
	}
	writeJSON(w, http.StatusOK, map[string][]jwk{"keys": keys})
}

// tokenReply is Entra ID's token endpoint reply.
type tokenReply struct {
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	ExtExpiresIn int64  `json:"ext_expires_in"`
	AccessToken  string `json:"access_token"`
}

const clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

func (s *Server) authorityToken(w http.ResponseWriter, r *http.Request) {
	s.count(func(c *Counts) { c.AuthorityTokens++ })
	if s.injected(w, r, AuthorityToken) {
		return
	}
	tenant, ok := s.tenantForm(w, r)
	if !ok {
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		s.oauthFail(w, http.StatusBadRequest, "unsupported_grant_type", 70003, "The app requested an unsupported grant type '%s'. This authority serves client_credentials only.", gt)
		return
	}
	scope := resourceScope(r.PostForm.Get("scope"))
	if !strings.HasSuffix(scope, "/.default") {
		s.oauthFail(w, http.StatusBadRequest, "invalid_scope", 1002012, "The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", scope)
		return
	}
	clientID := r.PostForm.Get("client_id")
	s.dir.mu.Lock()
	app := s.dir.app(tenant, clientID)
	s.dir.mu.Unlock()
	if app == nil {
		s.oauthFail(w, http.StatusBadRequest, "unauthorized_client", 700016,
			"Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.", clientID, tenant)
		return
	}
	if !s.clientAuthenticated(w, r, app) {
		return
	}
	tok, exp, err := s.mint(app.Principal, tenant, scope)
	if err != nil {
		s.oauthFail(w, http.StatusInternalServerError, "server_error", 90000, "signing the token failed")
		return
	}
	secs := int64(exp.Sub(s.Now()) / time.Second)
	writeJSON(w, http.StatusOK, tokenReply{TokenType: "Bearer", ExpiresIn: secs, ExtExpiresIn: secs, AccessToken: tok})
}

// clientAuthenticated checks the client secret or client assertion, and
// answers the failure when there is one.
func (s *Server) clientAuthenticated(w http.ResponseWriter, r *http.Request, app *appPrincipal) bool {
	secret, assertion := r.PostForm.Get("client_secret"), r.PostForm.Get("client_assertion")
	switch {
	case secret != "":
		if app.secret == "" || subtle.ConstantTimeCompare([]byte(secret), []byte(app.secret)) != 1 {
			s.oauthFail(w, http.StatusUnauthorized, "invalid_client", 7000215,
				"Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", app.ClientID)
			return false
		}
		return true
	case assertion != "":
		if t := r.PostForm.Get("client_assertion_type"); t != clientAssertionType {
			s.oauthFail(w, http.StatusBadRequest, "invalid_request", 50027, "Invalid client_assertion_type '%s'; use %s.", t, clientAssertionType)
			return false
		}
		if err := s.verifyAssertion(assertion, app, "https://"+r.Host+r.URL.Path); err != nil {
			s.oauthFail(w, http.StatusUnauthorized, "invalid_client", 700027, "Client assertion failed signature validation: %v", err)
			return false
		}
		return true
	}
	s.oauthFail(w, http.StatusUnauthorized, "invalid_client", 7000218,
		"The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
	return false
}

// verifyAssertion checks a client assertion against the app's registered
// certificate. The client signs with its own clock, so the check uses real
// time rather than the server's movable clock.
func (s *Server) verifyAssertion(assertion string, app *appPrincipal, tokenEndpoint string) error {
	if app.cert == nil {
		return fmt.Errorf("no certificate is registered for app '%s'", app.ClientID)
	}
	pub, ok := app.cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return fmt.Errorf("the certificate registered for app '%s' has no RSA key", app.ClientID)
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(assertion, claims, func(*jwt.Token) (any, error) { return pub, nil },
		jwt.WithValidMethods([]string{"RS256", "PS256"}), jwt.WithExpirationRequired(),
		jwt.WithLeeway(5*time.Minute), jwt.WithAudience(tokenEndpoint),
		jwt.WithIssuer(app.ClientID), jwt.WithSubject(app.ClientID))
	return err
}

// resourceScope picks the resource scope from a scope list, leaving out the
// OpenID scopes MSAL adds to every request.
func resourceScope(scopes string) string {
	var rest []string
	for _, sc := range strings.Fields(scopes) {
		switch sc {
		case "openid", "offline_access", "profile":
		default:
			rest = append(rest, sc)
		}
	}
	return strings.Join(rest, " ")
}

// UserSignIn describes a user signed in to an app, whose access token
// UserToken mints.
type UserSignIn struct {
	// User is the user's name, such as alice; it becomes name and
	// preferred_username, and the oid and sub are derived from it.
	User string
	// Audience is the aud of the token: the app's API, such as api://chat.
	Audience string
	// TenantID is the user's tenant. Defaults to the server's tenant.
	TenantID string
	// Claims are added to the token, replacing any of the same name, such
	// as roles, or exp to make an expired token.
	Claims map[string]any
}

// SignInAuthority is the issuer of the server's tenant's v2.0 tokens: what
// an app's SIGNALR_NEGOTIATE_AUTHORITY names to accept UserToken's tokens.
func (s *Server) SignInAuthority() string { return s.issuer(s.TenantID) }

// UserToken mints an access token for a user signed in to an app, shaped as
// Entra ID's v2.0 tokens for a user: the user's object id (oid, the same in
// every app), a pairwise subject (sub, per app), the tenant, name,
// preferred_username and a delegated scope, signed by the authority's
// current key and issued by SignInAuthority's issuer for the tenant.
func (s *Server) UserToken(u UserSignIn) (string, time.Time, error) {
	if u.User == "" || u.Audience == "" {
		return "", time.Time{}, errors.New("emulator: a user token needs User and Audience")
	}
	tenant := u.TenantID
	if tenant == "" {
		tenant = s.TenantID
	}
	if !s.dir.tenantKnown(tenant) {
		return "", time.Time{}, fmt.Errorf("emulator: tenant %q is not known; use the server's tenant or one with an application", tenant)
	}
	now := s.Now()
	exp := now.Add(s.opts.TokenLifetime)
	oid := derivedUUID("oid", tenant, u.User)
	sub := sha256.Sum256([]byte("sub\x00" + tenant + "\x00" + u.User + "\x00" + u.Audience))
	claims := jwt.MapClaims{
		"aud":                u.Audience,
		"iss":                s.issuer(tenant),
		"iat":                now.Unix(),
		"nbf":                now.Unix(),
		"exp":                exp.Unix(),
		"name":               u.User,
		"preferred_username": u.User + "@" + tenant,
		"oid":                oid,
		"sub":                base64.RawURLEncoding.EncodeToString(sub[:]),
		"tid":                tenant,
		"scp":                "access_as_user",
		"ver":                "2.0",
		"uti":                newUUID(),
	}
	for k, v := range u.Claims {
		claims[k] = v
	}
	if e, ok := claims["exp"].(int64); ok {
		exp = time.Unix(e, 0)
	}
	signed, err := signRS256(claims, s.signing.current())
	return signed, exp, err
}

// derivedUUID is a UUID that depends only on its parts, so a user keeps
// one object id across restarts of the stand-in.
func derivedUUID(parts ...string) string {
	b := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// userTokenEndpoint serves UserToken over HTTP, for tests in other
// languages: POST /{tenant}/emulator/user-token with the form fields user,
// audience and, optionally, claims (a JSON object). The reply is shaped as
// the token endpoint's. Entra ID has no such endpoint: a real app signs
// its users in with MSAL.
func (s *Server) userTokenEndpoint(w http.ResponseWriter, r *http.Request) {
	tenant, ok := s.tenantForm(w, r)
	if !ok {
		return
	}
	in := UserSignIn{User: r.PostForm.Get("user"), Audience: r.PostForm.Get("audience"), TenantID: tenant}
	if in.User == "" || in.Audience == "" {
		s.oauthFail(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the parameters 'user' and 'audience'.")
		return
	}
	if raw := r.PostForm.Get("claims"); raw != "" {
		d := json.NewDecoder(strings.NewReader(raw))
		d.UseNumber()
		if err := d.Decode(&in.Claims); err != nil {
			s.oauthFail(w, http.StatusBadRequest, "invalid_request", 900144, "The parameter 'claims' must be a JSON object: %v", err)
			return
		}
		for k, v := range in.Claims {
			if n, ok := v.(json.Number); ok {
				if i, err := n.Int64(); err == nil {
					in.Claims[k] = i
				}
			}
		}
	}
	tok, exp, err := s.UserToken(in)
	if err != nil {
		s.oauthFail(w, http.StatusInternalServerError, "server_error", 90000, "signing the token failed")
		return
	}
	secs := int64(exp.Sub(s.Now()) / time.Second)
	writeJSON(w, http.StatusOK, tokenReply{TokenType: "Bearer", ExpiresIn: secs, ExtExpiresIn: secs, AccessToken: tok})
}

// tenantForm reads a token request's form and its tenant, as Entra ID's
// token endpoint does; false when it answered the request with an error.
func (s *Server) tenantForm(w http.ResponseWriter, r *http.Request) (string, bool) {
	tenant := r.PathValue("tenant")
	if err := r.ParseForm(); err != nil {
		s.oauthFail(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must be application/x-www-form-urlencoded.")
		return "", false
	}
	if !s.dir.tenantKnown(tenant) {
		s.unknownTenant(w, tenant)
		return "", false
	}
	return tenant, true
}
