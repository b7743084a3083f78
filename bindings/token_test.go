package bindings

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
)

// referenceClientToken signs the client token golang-jwt would for the same
// inputs: the claims gathered into jwt.MapClaims (a repeated type becomes an
// array), marshalled and signed by golang-jwt. Names come from
// tokenClaimName, whose rules other tests pin to the C# SDK; what this
// reference checks is the JSON writing, grouping, escaping and signing.
func referenceClientToken(t testing.TB, aud, userID string, claims []Claim, key []byte, kid string, now, exp time.Time) string {
	m := jwt.MapClaims{"aud": aud, "exp": exp.Unix(), "iat": now.Unix(), "nbf": now.Unix()}
	if userID != "" {
		m["asrs.s.uid"] = userID
	}
	sub := false
	for _, c := range claims {
		name := tokenClaimName(c.Type, sub)
		sub = sub || name == "sub"
		switch old := m[name].(type) {
		case nil:
			m[name] = c.Value
		case string:
			m[name] = []string{old, c.Value}
		case []string:
			m[name] = append(old, c.Value)
		default:
			t.Fatalf("claim %q collides with a fixed claim", name)
		}
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, m)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// verified parses and verifies tok with golang-jwt, returning its header and claims.
func verified(t testing.TB, tok string, key []byte, now time.Time) (map[string]any, jwt.MapClaims) {
	t.Helper()
	claims := jwt.MapClaims{}
	p, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return key, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(func() time.Time { return now }))
	if err != nil {
		t.Fatalf("golang-jwt refuses %q: %v", tok, err)
	}
	return p.Header, claims
}

// checkClientToken signs with signClient and holds the token to golang-jwt:
// it must verify with the key, and its header and claims must be those of
// the reference token.
func checkClientToken(t testing.TB, e *Endpoint, ph, userID string, claims []Claim, key []byte, kid string) {
	t.Helper()
	now := time.Date(2025, 3, 12, 8, 0, 0, 0, time.UTC)
	exp := now.Add(time.Hour)
	tok, err := e.signClient(ph, userID, claims, key, kid, now, exp)
	if err != nil {
		if strings.Contains(err.Error(), "over the service's limit") {
			return
		}
		for _, c := range claims {
			if c.Type == "" {
				return // refused, as it must be
			}
		}
		t.Fatalf("signClient: %v", err)
	}
	for _, c := range claims {
		if c.Type == "" {
			t.Fatalf("signed a token with a claim that has no type: %+v", claims)
		}
	}
	aud := "https://contoso.service.signalr.net/client/?hub=" + ph
	want := referenceClientToken(t, aud, userID, claims, key, kid, now, exp)
	gotHeader, got := verified(t, tok, key, now)
	wantHeader, wantClaims := verified(t, want, key, now)
	if d := cmp.Diff(wantHeader, gotHeader); d != "" {
		t.Errorf("header (-golang-jwt +ours):\n%s", d)
	}
	if d := cmp.Diff(wantClaims, got); d != "" {
		t.Errorf("claims (-golang-jwt +ours):\n%s", d)
	}
}

func tokenTestEndpoint(t testing.TB) *Endpoint {
	return &Endpoint{serviceURL: mustURL(t, "https://contoso.service.signalr.net:443"), opts: &Options{}}
}

// TestClientTokenMatchesGolangJWT covers escaping in the user id, claim
// types and values (quotes, backslashes, control characters, HTML
// characters, non-ASCII, U+2028, bytes that are not UTF-8), repeated,
// shortened and reserved types, and the kid.
func TestClientTokenMatchesGolangJWT(t *testing.T) {
	e := tokenTestEndpoint(t)
	key := []byte("the-access-key")
	const ws = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"
	odd := []string{`q"uote`, `back\slash`, "tab\tnl\n", "nul\x00", "<b>&amp;</b>", "Zoë 名前", "line\u2028sep", "bad\xff\xc3", "🙂"}
	for _, s := range odd {
		checkClientToken(t, e, "chat", s, nil, key, "kid-1")
		checkClientToken(t, e, "chat", "ada", []Claim{{s, "v"}, {"name", s}, {s, s}}, key, `kid"`+s)
	}
	checkClientToken(t, e, "app_chat", "", []Claim{
		{ws + "name", "Ada"}, {"role", "a"}, {"http://schemas.microsoft.com/ws/2008/06/identity/claims/role", "b"}, {"role", "c"},
		{"sub", "1"}, {"sub", "2"}, {"asrs.u.sub", "3"}, {"aud", "evil"}, {"AUD", "evil"}, {"asrs.s.uid", "admin"}, {"ASRS.S.UID", "admin"}, {"amr", "pwd"},
		{"http://schemas.microsoft.com/claims/authnclassreference", "1"}, {"urn:custom", "kept"}, {"empty", ""},
	}, key, "kid-2")
	many := make([]Claim, 40) // beyond the stack array for claims
	for i := range many {
		many[i] = Claim{string(rune('a' + i%7)), strings.Repeat("x", i)}
	}
	checkClientToken(t, e, "chat", "ada", many, key, "kid-3")
}

// FuzzClientToken holds every token signClient builds to golang-jwt's
// parsing and verification, and to the claims golang-jwt writes for the
// same inputs.
func FuzzClientToken(f *testing.F) {
	f.Add("ada", "name", "Ada", "role", byte(0))
	f.Add(`q"<&>\`, "sub", "\u2028", "sub", byte(6))
	f.Add("Zoë", "", "x", "aud", byte(9))
	f.Add("\xff", "asrs.s.uid", "\x00", "acr", byte(12))
	f.Add("ada", "Asrs.S.Uid", "x", "NBF", byte(13))
	longTypes := make([]string, 0, len(outboundClaimTypes))
	for k := range outboundClaimTypes {
		longTypes = append(longTypes, k)
	}
	slices.Sort(longTypes)
	e := tokenTestEndpoint(f)
	key := []byte("the-access-key")
	f.Fuzz(func(t *testing.T, userID, a, v, b string, pick byte) {
		claims := []Claim{{a, v}, {b, userID}, {a, b}, {"sub", v}, {longTypes[int(pick)%len(longTypes)], a}, {b, v}}
		checkClientToken(t, e, "chat", userID, claims[:1+int(pick)%len(claims)], key, "kid")
	})
}
