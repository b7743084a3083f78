package emulator

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// serviceKeyID is the kid of the key the service signs :generateToken
// tokens with; it never expires and works with local auth disabled.
const serviceKeyID = "asrs-service"

// keyRing holds the temporary access keys the auth API hands out. Several
// are valid at once, so clients signed with the previous key keep working
// while an app server rotates.
type keyRing struct {
	mu   sync.Mutex
	now  func() time.Time
	keys map[string]tempKey
	seq  int
}

type tempKey struct {
	value   string
	expires time.Time // zero: never
}

func newKeyRing(now func() time.Time) *keyRing {
	return &keyRing{now: now, keys: map[string]tempKey{serviceKeyID: {value: randomKey()}}}
}

// issue makes a new temporary key valid for lifetime.
func (k *keyRing) issue(lifetime time.Duration) (id, value string) {
	now := k.now()
	k.mu.Lock()
	defer k.mu.Unlock()
	for id, t := range k.keys {
		// Forget keys long expired, so a long run does not pile them up.
		if !t.expires.IsZero() && now.Sub(t.expires) > 24*time.Hour {
			delete(k.keys, id)
		}
	}
	k.seq++
	id = fmt.Sprintf("key-%d-%s", k.seq, newUUID()[:8])
	value = randomKey()
	k.keys[id] = tempKey{value: value, expires: now.Add(lifetime)}
	return id, value
}

// errKeyNotFound is what the service says about tokens signed with a key
// it no longer has.
var errKeyNotFound = errors.New("The signature key was not found")

// lookup returns the key with the id, if it has not expired; known says
// whether the id was ever issued.
func (k *keyRing) lookup(id string) (value string, known bool, err error) {
	now := k.now()
	k.mu.Lock()
	defer k.mu.Unlock()
	t, ok := k.keys[id]
	switch {
	case !ok:
		return "", false, fmt.Errorf("%w: no key with kid %q", errKeyNotFound, id)
	case !t.expires.IsZero() && !now.Before(t.expires):
		return "", true, fmt.Errorf("%w: the key with kid %q expired at %s; get a new one from the auth API", errKeyNotFound, id, t.expires.UTC().Format(time.RFC3339))
	}
	return t.value, true, nil
}

// forget drops every temporary key, keeping the service's own.
func (k *keyRing) forget() {
	k.mu.Lock()
	defer k.mu.Unlock()
	for id := range k.keys {
		if id != serviceKeyID {
			delete(k.keys, id)
		}
	}
}

func (k *keyRing) serviceKey() string {
	v, _, _ := k.lookup(serviceKeyID)
	return v
}

// hmacKey finds the key that signed an HS256 token: a temporary key by its
// kid, or else either access key of the resource, unless local auth is
// disabled.
func (s *Server) hmacKey(t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	v, known, err := s.keys.lookup(kid)
	_, disabled := s.localAuth()
	switch {
	case err == nil:
		return []byte(v), nil
	case known:
		return nil, err
	case disabled:
		return nil, fmt.Errorf("%w (local auth is disabled, so the access key does not sign tokens)", err)
	}
	set := jwt.VerificationKeySet{}
	for _, k := range s.accessKeys() {
		set.Keys = append(set.Keys, []byte(k))
	}
	return set, nil
}
