package settings

import (
	"fmt"
	"log/slog"
)

// Secret holds a value that must never be printed.
type Secret string

// String redacts the secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "REDACTED"
}

// LogValue redacts the secret in structured logs.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Format redacts the secret for every verb, %#v and %d included: fmt
// would print a string type's own value for verbs String does not serve.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprintf(f, "%q", s.String())
		return
	}
	fmt.Fprint(f, s.String())
}

// MarshalText redacts the secret in JSON (a struct holding it logged by
// slog's JSONHandler) and other text encodings.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Reveal returns the secret's value, for signing and for credentials only.
func (s Secret) Reveal() string { return string(s) }
