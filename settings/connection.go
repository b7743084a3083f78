package settings

import (
	"errors"
	"os"
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
	s := newAppSettings([]string{name + "=" + connectionString})
	e, found := b.connection(s, name, "")
	switch {
	case len(b.errs) > 0:
		return Endpoint{}, b.warns, errors.Join(b.errs...)
	case !found || e == nil:
		return Endpoint{}, b.warns, &SettingError{name, "is empty", "Use a connection string such as Endpoint=https://<resource>.service.signalr.net;AuthType=azure;Version=1.0;"}
	}
	return *e, b.warns, nil
}
