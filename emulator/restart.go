package emulator

import "github.com/golang-jwt/jwt/v5"

// epochClaim marks the Entra tokens the server mints with its token epoch;
// RevokeTokens moves the epoch past them.
const epochClaim = "xms_emu_epoch"

// RevokeTokens makes the service refuse (401) every Entra token minted so
// far, as when tokens are revoked; new tokens work.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenEpoch++
}

// ForgetKeys drops every temporary key the auth API handed out, as a
// restarted service forgets them: client tokens signed with them get 401.
func (s *Server) ForgetKeys() { s.keys.forget() }

// Restart plays a service restart: temporary keys forgotten and earlier
// Entra tokens refused.
func (s *Server) Restart() {
	s.ForgetKeys()
	s.RevokeTokens()
}

// SetAccessKey replaces the resource's access key, as regenerating it does:
// tokens signed with the old one get 401.
func (s *Server) SetAccessKey(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.AccessKey = key
}

// SetLocalAuthDisabled turns "disable local auth" on or off.
func (s *Server) SetLocalAuthDisabled(disabled bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.LocalAuthDisabled = disabled
}

// localAuth returns the access key and whether local auth is disabled.
func (s *Server) localAuth() (key string, disabled bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opts.AccessKey, s.opts.LocalAuthDisabled
}

func (s *Server) epoch() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenEpoch
}

// revoked says whether an Entra token's claims are of an earlier epoch.
func (s *Server) revoked(claims jwt.MapClaims) bool {
	e, _ := claims[epochClaim].(float64)
	return int(e) < s.epoch()
}
