// Command proxy is a bare reverse proxy (net/http/httputil) from
// 127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT to $PROXY_TARGET: the cost of one
// more hop in front of the service, which make bench compares a send
// through the handler with. Like the handler's client, it keeps enough idle
// connections for its callers.
package main

import (
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
)

func main() {
	target, err := url.Parse(os.Getenv("PROXY_TARGET"))
	if err != nil || target.Host == "" {
		fmt.Fprintln(os.Stderr, "proxy: set PROXY_TARGET to the service URL")
		os.Exit(2)
	}
	p := httputil.NewSingleHostReverseProxy(target)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	p.Transport = tr
	if err := http.ListenAndServe("127.0.0.1:"+os.Getenv("FUNCTIONS_CUSTOMHANDLER_PORT"), p); err != nil {
		fmt.Fprintln(os.Stderr, "proxy:", err)
		os.Exit(1)
	}
}
