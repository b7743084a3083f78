package settings

import "github.com/signalr-entra/handler/bindings"

// Secret holds a value that must never be printed (fmt, slog and text
// encoders show REDACTED); Reveal returns it.
type Secret = bindings.Secret
