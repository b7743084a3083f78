package hostproto

import (
	"net/http"
	"strings"
)

// The headers the host sets on every request it hands a custom handler
// (azure-functions-host src/WebJobs.Script/Workers/Http/HttpWorkerConstants.cs,
// DefaultHttpWorkerService.AddHeaders and AddProxyingHeaders), and the
// correlation header its proxy adds (ScriptConstants.HttpProxyCorrelationHeader,
// set by DefaultHttpProxyService.StartForwarding).
const (
	InvocationIDHeader     = "X-Azure-Functions-InvocationId"
	HostVersionHeader      = "X-Azure-Functions-HostVersion"
	ProxyCorrelationHeader = "X-Ms-Invocation-Id"
	// hostUserAgent is the product AddHeaders appends to the User-Agent of
	// payloads and forwarded requests; the proxy leaves the caller's alone.
	hostUserAgent = "Azure-Functions-Host/"
)

// Arrival is how a caller's request on an /api route reached the handler.
type Arrival string

const (
	// Proxied: the host's YARP proxy streamed the caller's request
	// (customHandler.enableProxyingHttpRequest).
	Proxied Arrival = "proxied"
	// Forwarded: the host rebuilt the caller's request
	// (customHandler.enableForwardingHttpRequest).
	Forwarded Arrival = "forwarded"
	// Direct: no host in front (standalone), or one that set none of its
	// headers.
	Direct Arrival = "direct"
)

// ArrivalOf tells how r arrived, by the headers only the host sets
// together: the proxy sets the invocation id in both its headers and keeps
// the caller's User-Agent; forwarding sets the id once and appends the
// host's product to the User-Agent. A caller can forge them where no host
// stands in front, so the answer names a mode for logs and messages, and
// may make the handler refuse a request, never trust one.
func ArrivalOf(r *http.Request) Arrival {
	id := r.Header.Get(InvocationIDHeader)
	switch {
	case id == "" || r.Header.Get(HostVersionHeader) == "":
		return Direct
	case r.Header.Get(ProxyCorrelationHeader) == id:
		return Proxied
	case strings.Contains(r.Header.Get("User-Agent"), hostUserAgent):
		return Forwarded
	}
	return Direct
}
