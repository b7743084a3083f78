package settings

import (
	"strings"
	"testing"
)

func FuzzParseConnectionString(f *testing.F) {
	for _, s := range []string{
		"Endpoint=https://a.service.signalr.net;AccessKey=k;Version=1.0;",
		"endpoint=http://127.0.0.1:8080;accesskey=a=b==;port=8080",
		"Endpoint=https://a;AuthType=azure.app;ClientId=c;TenantId=t;ClientSecret=s",
		";;=;a=b;A=c", "Endpoint", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		kv, err := ParseConnectionString(s)
		if err != nil {
			return
		}
		for k, v := range kv {
			if k != strings.ToLower(k) || k == "" || strings.ContainsAny(k, ";") || strings.Contains(v, ";") {
				t.Fatalf("key %q value %q from %q", k, v, s)
			}
		}
		// The fields an endpoint reads never fail on a parsed string.
		connectionStringFields("X", kv)
	})
}

// FuzzSection reads arbitrary setting names and values as sections and
// endpoint lists: no panic, and every child is found again by its own name.
func FuzzSection(f *testing.F) {
	f.Add("AzureSignalRConnectionString__serviceUri", "https://a", "azure:signalr:endpoints:East:type", "primary")
	f.Add("AzureSignalRConnectionString:ServiceURI", "x", "AzureSignalRConnectionString__serviceUri", "y")
	f.Add("Azure__SignalR__Endpoints__İ__serviceUri", "z", "Azure__SignalR__Endpoints____", "")
	f.Add("CUSTOMCONNSTR_AzureSignalRConnectionString", "Endpoint=https://a;AuthType=azure.msi", "ConnectionStrings:AzureSignalRConnectionString", "Endpoint=https://b;AccessKey=k")
	f.Add("Azure__SignalR__Endpoints__e", "Endpoint=https://a;AccessKey=k", "Azure:SignalR:Endpoints:e:secondary", "Endpoint=https://b;AccessKey=k")
	f.Fuzz(func(t *testing.T, n1, v1, n2, v2 string) {
		s := newAppSettings([]string{n1 + "=" + v1, n2 + "=" + v2})
		// The lookup in the C# extension's order never panics, and every
		// endpoint it returns has a service URI.
		b := &builder{getenv: func(string) string { return "" }, opts: LoadOptions{CertificateDir: "/nonexistent"}}
		for _, e := range b.endpoints(s, DefaultConnectionSetting) {
			if e.ServiceURI == nil || e.Setting == "" {
				t.Fatalf("endpoint %+v from %q=%q, %q=%q", e, n1, v1, n2, v2)
			}
		}
		for _, prefix := range []string{"AzureSignalRConnectionString", EndpointsPrefix} {
			children := s.children(prefix)
			readSection(prefix, children)
			for k, v := range children {
				if got, ok := s.get(v.Name); !ok || got != v {
					t.Fatalf("child %q (%+v) not found by its name: %+v", k, v, got)
				}
			}
			for _, g := range s.groups(prefix) {
				if g == "" || strings.Contains(key(g), "__") {
					t.Fatalf("group %q under %s", g, prefix)
				}
			}
		}
	})
}

// FuzzRedactPassword checks that no part of a URI's password survives, even
// one holding "@", "/" or ":" that makes the URI unparsable.
func FuzzRedactPassword(f *testing.F) {
	f.Add("user", "TOPSECRET", "a.example.com")
	f.Add("", "x@y/z:w", "a.example.com:port/path")
	f.Add("u", "", "")
	f.Fuzz(func(t *testing.T, user, password, rest string) {
		if strings.ContainsAny(user, "/@:") || strings.Contains(rest, "@") {
			t.Skip("the user info would end elsewhere")
		}
		got := redactPassword("https://" + user + ":" + password + "@" + rest)
		if want := "https://" + user + ":xxxxx@" + rest; got != want {
			t.Fatalf("redactPassword = %q, want %q", got, want)
		}
	})
}

// FuzzParseEndpoint reads arbitrary connection strings as a Go program
// hands them over: no panic, an endpoint or an error, and never the access
// key or client secret in the error or the warnings.
func FuzzParseEndpoint(f *testing.F) {
	f.Add("Endpoint=https://<name>.service.signalr.net;AccessKey=TOPSECRET;Version=1.0;")
	f.Add("Endpoint=https://a.service.signalr.net;AuthType=azure.app;ClientId=c;TenantId=t;ClientSecret=TOPSECRET")
	f.Add("Endpoint=http://127.0.0.1;Port=99999;AccessKey=TOPSECRET")
	f.Add("Endpoint=https://a.service.signalr.net;AuthType=azure;ClientSecret=TOPSECRET")
	f.Fuzz(func(t *testing.T, s string) {
		e, warnings, err := ParseEndpoint("connection string", s, nil)
		if err == nil && e.ServiceURI == nil {
			t.Fatalf("no error and no service URI from %q", s)
		}
		out := strings.Join(warnings, "\n")
		if err != nil {
			out += err.Error()
		}
		if strings.Contains(out, "TOPSECRET") {
			t.Fatalf("a secret shows in %q", out)
		}
	})
}

// FuzzNearMiss compares arbitrary setting names with the expected ones: no
// panic, and a hint only for a name that is not itself expected.
func FuzzNearMiss(f *testing.F) {
	f.Add("AzureSignalRConnectionString_serviceUri")
	f.Add("Azure_SignalR_Endpoints_east")
	f.Add("#AzureSignalRConnectionString")
	f.Fuzz(func(t *testing.T, name string) {
		if strings.ContainsAny(name, "=\x00") {
			return
		}
		s := newAppSettings([]string{name + "=x"})
		if hint := nearMiss(s, DefaultConnectionSetting); hint != "" && !strings.Contains(hint, name) {
			t.Fatalf("hint %q does not name %q", hint, name)
		}
	})
}
