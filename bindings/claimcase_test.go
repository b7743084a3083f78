package bindings

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestClientTokenReservedClaimsAnyCase checks that a user's claim cannot set
// a reserved name by spelling it in another case: SIGNALR_CLAIM_TYPES copies
// claim types without regard to case, and .NET looks claims up without it.
func TestClientTokenReservedClaimsAnyCase(t *testing.T) {
	f := newFakeService(t)
	clock := newClock()
	c, _ := newTestClient(t, []EndpointConfig{keyEndpoint(t, f)}, Options{Now: clock.Now})
	claims := []Claim{{"ASRS.S.UID", "admin"}, {"Asrs.S.Roles", "x"}, {"AUD", "evil"}, {"Nbf", "1"}, {"name", "Ada"}}
	info, err := c.ConnectionInfo(context.Background(), "chat", "ada", claims)
	if err != nil {
		t.Fatal(err)
	}
	_, got := parsed(t, info.AccessToken, "the-access-key", clock.Now())
	for _, k := range []string{"aud", "iat", "nbf", "exp"} {
		delete(got, k)
	}
	want := map[string]any{
		"asrs.s.uid": "ada", "asrs.u.ASRS.S.UID": "admin", "asrs.u.Asrs.S.Roles": "x",
		"asrs.u.AUD": "evil", "asrs.u.Nbf": "1", "name": "Ada",
	}
	if d := cmp.Diff(want, map[string]any(got)); d != "" {
		t.Errorf("claims (-want +got):\n%s", d)
	}
}
