package settings

import (
	"errors"
	"os"
	"strings"
)

// ParseEndpoint reads one connection string, such as
// "Endpoint=https://contoso.service.signalr.net;AuthType=azure.msi;Version=1.0;",
// into an Endpoint with its credential, as Load reads the app setting
// AzureSignalRConnectionString, for programs that hold the string
// themselves. name is what errors and warnings call it. It makes no network
// call. The warnings are of keys that work but are likely mistakes.
func ParseEndpoint(name, connectionString string, opts *LoadOptions) (Endpoint, []string, error) {
	var o LoadOptions
	if opts != nil {
		o = *opts
	}
	b := &builder{opts: o, getenv: os.Getenv}
	if strings.TrimSpace(connectionString) == "" {
		return Endpoint{}, nil, &SettingError{name, "is empty", "Use a connection string such as Endpoint=https://<resource>.service.signalr.net;AuthType=azure;Version=1.0;"}
	}
	e := b.fromConnectionString(setting{Name: name, Value: connectionString}, "", setting{})
	if len(b.errs) > 0 || e == nil {
		return Endpoint{}, b.warns, errors.Join(b.errs...)
	}
	return *e, b.warns, nil
}
