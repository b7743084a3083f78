package emulator

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"slices"
	"sync"
)

// signingKey is one of the authority's RS256 token signing keys.
type signingKey struct {
	kid string
	key *rsa.PrivateKey
}

// newSigningKey makes a key whose kid is the base64url SHA-1 of its public
// key, the shape of Entra ID's key ids.
func newSigningKey() (signingKey, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return signingKey{}, fmt.Errorf("emulator: generating a token signing key: %w", err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return signingKey{}, fmt.Errorf("emulator: encoding a token signing key: %w", err)
	}
	sum := sha1.Sum(der)
	return signingKey{kid: base64.RawURLEncoding.EncodeToString(sum[:]), key: key}, nil
}

// signingKeys are the authority's keys: the newest signs, and all stay
// published, as Entra ID keeps a retired key published for longer than
// the tokens it signed live.
type signingKeys struct {
	mu  sync.Mutex
	all []signingKey // oldest first
}

func (k *signingKeys) add(key signingKey) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.all = append(k.all, key)
}

// current is the key that signs new tokens.
func (k *signingKeys) current() signingKey {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.all[len(k.all)-1]
}

// published lists every key, newest first, as a key set lists them.
func (k *signingKeys) published() []signingKey {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := slices.Clone(k.all)
	slices.Reverse(out)
	return out
}

// public finds a published key by its kid.
func (k *signingKeys) public(kid string) (*rsa.PublicKey, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, s := range k.all {
		if s.kid == kid {
			return &s.key.PublicKey, true
		}
	}
	return nil, false
}

// RotateSigningKey makes the authority sign new tokens with a new key, as
// Entra ID rolls its keys. The old keys stay published, so tokens they
// signed stay valid; an app that cached the key set meets a kid it has not
// seen and must fetch the keys again. Cached upstream tokens are dropped,
// so the next upstream request carries a token with the new kid. It
// returns the new kid.
func (s *Server) RotateSigningKey() (string, error) {
	key, err := newSigningKey()
	if err != nil {
		return "", err
	}
	s.signing.add(key)
	s.upstreamTokens.clear()
	s.log.Info("authority signing key rotated", "kid", key.kid)
	return key.kid, nil
}
