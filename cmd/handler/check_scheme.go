package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// checkHealth runs the health check and, when it fails, tells whether the
// URI's scheme is not the one the server speaks: https to a plain http
// stand-in, or http to a TLS server. Both fail with errors that do not say so.
func (p *probe) checkHealth(ctx context.Context) error {
	err := p.e.Health(ctx)
	p.add(checkHealth, err, "the service is up", "")
	if err == nil {
		return nil
	}
	u, field := p.s.ServiceURI, "serviceUri"
	if p.s.ServerEndpoint != nil {
		// REST calls and the health check go there.
		u, field = p.s.ServerEndpoint, "serverEndpoint"
	}
	if u == nil {
		return err
	}
	setting := fmt.Sprintf("%s (%s in a connection string)", p.s.SettingName(field), connectionStringKey[field])
	switch {
	case u.Scheme == "https" && strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		p.mismatch = true
		p.rep.Checks = append(p.rep.Checks, checkResult{
			Name:   checkScheme,
			Detail: fmt.Sprintf("the service at %s answers plain http, not https", u.Host),
			Fix: fmt.Sprintf("If it is a local stand-in, set %s to http://%s (plain http is allowed to loopback addresses only). A SignalR resource speaks https: check the host and port.",
				setting, u.Host),
		})
	case u.Scheme == "http":
		trusted, tlsErr := speaksTLS(ctx, u)
		if tlsErr != nil {
			return err
		}
		p.mismatch = true
		fix := fmt.Sprintf("Set %s to https://%s.", setting, u.Host)
		if !trusted {
			fix += " Its certificate is not trusted here: point SSL_CERT_FILE at the PEM file of its CA."
		}
		p.rep.Checks = append(p.rep.Checks, checkResult{
			Name:   checkScheme,
			Detail: fmt.Sprintf("the service at %s speaks https (TLS), not plain http", u.Host),
			Fix:    fix,
		})
	}
	return err
}

// connectionStringKey is the connection string's key for a URI setting.
var connectionStringKey = map[string]string{"serviceUri": "Endpoint=", "serverEndpoint": "ServerEndpoint="}

// speaksTLS tries a TLS handshake with the server of a plain-http URI, which
// the settings allow to loopback addresses only: the health check has just
// reached the same address. trusted says whether its certificate verified.
// It sends no request.
func speaksTLS(ctx context.Context, u *url.URL) (trusted bool, err error) {
	port := u.Port()
	if port == "" {
		port = "80"
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	d := tls.Dialer{Config: &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(u.Hostname(), port))
	var verr *tls.CertificateVerificationError
	switch {
	case err == nil:
		conn.Close()
		return true, nil
	case errors.As(err, &verr):
		return false, nil
	}
	return false, err
}
