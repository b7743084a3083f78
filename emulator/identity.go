package emulator

import (
	"crypto/subtle"
	"net/http"
	"strconv"
)

// appServiceAPIVersion is the api-version of App Service's managed identity
// endpoint, which azidentity (through MSAL) sends.
const appServiceAPIVersion = "2019-08-01"

// identityToken is the App Service managed identity reply.
type identityToken struct {
	AccessToken string `json:"access_token"`
	ExpiresOn   string `json:"expires_on"`
	Resource    string `json:"resource"`
	TokenType   string `json:"token_type"`
	ClientID    string `json:"client_id"`
}

// identityError is the App Service managed identity error body, as Azure
// answers it: {"statusCode":400,"message":"Unable to load the proper
// Managed Identity.","correlationId":"..."} for an identity the app lacks.
type identityError struct {
	StatusCode    int    `json:"statusCode"`
	Message       string `json:"message"`
	CorrelationID string `json:"correlationId"`
}

func (s *Server) identityHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /msi/token", s.identityToken)
	return mux
}

func (s *Server) identityToken(w http.ResponseWriter, r *http.Request) {
	s.count(func(c *Counts) { c.IdentityTokens++ })
	fail := func(status int, msg string) {
		writeJSON(w, status, identityError{StatusCode: status, Message: msg, CorrelationID: newUUID()})
	}
	secret := r.Header.Get("X-IDENTITY-HEADER")
	switch {
	case secret == "":
		fail(http.StatusBadRequest, "The X-IDENTITY-HEADER header is missing; send the value of IDENTITY_HEADER.")
		return
	case subtle.ConstantTimeCompare([]byte(secret), []byte(s.IdentityHeader)) != 1:
		fail(http.StatusUnauthorized, "The X-IDENTITY-HEADER header does not match; send the value of IDENTITY_HEADER.")
		return
	}
	if s.injected(w, r, IdentityToken) {
		return
	}
	q := r.URL.Query()
	if v := q.Get("api-version"); v != appServiceAPIVersion {
		fail(http.StatusBadRequest, "Invalid api-version "+strconv.Quote(v)+"; use "+appServiceAPIVersion+".")
		return
	}
	resource := q.Get("resource")
	if resource == "" {
		fail(http.StatusBadRequest, "The resource parameter is missing; name the resource, such as "+SignalRResource+".")
		return
	}
	objectID := q.Get("object_id")
	if objectID == "" {
		objectID = q.Get("principal_id")
	}
	p, ok := s.dir.identity(q.Get("client_id"), q.Get("mi_res_id"), objectID)
	if !ok {
		id := q.Get("client_id") + q.Get("mi_res_id") + objectID
		fail(http.StatusBadRequest, "Unable to load the proper Managed Identity. Identity not found: "+strconv.Quote(id)+" is not assigned to this app.")
		return
	}
	tok, exp, err := s.mint(p, s.TenantID, resource)
	if err != nil {
		fail(http.StatusInternalServerError, "signing the token failed")
		return
	}
	writeJSON(w, http.StatusOK, identityToken{
		AccessToken: tok, ExpiresOn: strconv.FormatInt(exp.Unix(), 10),
		Resource: resource, TokenType: "Bearer", ClientID: p.ClientID,
	})
}
