package settings

import "time"

// Handler holds the handler's own settings, read with envconfig from the app
// settings (environment variables).
type Handler struct {
	// Hubs are the hubs this app serves; the first is the default for requests
	// that name none.
	Hubs []string `envconfig:"SIGNALR_HUBS" default:"default"`
	// UserIDHeader is a request header trusted for the user id. Unset by
	// default: only App Service Authentication names the user.
	UserIDHeader string `envconfig:"SIGNALR_USERID_HEADER"`
	// ClaimTypes lists principal claim types copied into client tokens.
	ClaimTypes []string `envconfig:"SIGNALR_CLAIM_TYPES"`
	// TokenLifetime is the lifetime of client access tokens.
	TokenLifetime time.Duration `envconfig:"SIGNALR_TOKEN_LIFETIME" default:"1h"`
	// ConnectionSetting names the connection (the prefix of its settings).
	ConnectionSetting string `envconfig:"SIGNALR_CONNECTION_SETTING" default:"AzureSignalRConnectionString"`
	// Negotiate is auto, local or service: how client tokens are signed.
	Negotiate string `envconfig:"SIGNALR_NEGOTIATE" default:"auto"`
	// KeyWait bounds how long the first request waits for the first access key.
	KeyWait time.Duration `envconfig:"SIGNALR_KEY_WAIT" default:"10s"`
	// MaxBodyBytes bounds the body of messages and groups requests.
	MaxBodyBytes int64 `envconfig:"SIGNALR_MAX_BODY_BYTES" default:"1048576"`
	// Application is the application name the service prefixes to hubs.
	Application string `envconfig:"SIGNALR_APPLICATION"`
	// CORSOrigins are the origins allowed to call the handler standalone.
	CORSOrigins []string `envconfig:"SIGNALR_CORS_ORIGINS"`
	// Port is where the handler listens, given by the Functions host.
	Port int `envconfig:"FUNCTIONS_CUSTOMHANDLER_PORT" default:"7071"`
}
