// Package handler speaks the Azure Functions custom handler protocol for the
// SignalR functions negotiate, messages, groups, manage and upstream.
//
// One [Handler] serves every way a request can arrive:
//
//   - payload mode: the Functions host posts an invocation payload to
//     /negotiate, /messages, /groups or /manage and expects {"Outputs", "Logs",
//     "ReturnValue"} back; non-HTTP triggers (a queue, a timer) reach
//     /messages and /groups the same way, with the messages as trigger data,
//     and so do the user's own trigger folders named messages-<x> or
//     groups-<x> (or with _), such as /messages-queue;
//   - proxied mode (enableProxyingHttpRequest, the default host.json) and
//     forwarded mode (enableForwardingHttpRequest), for functions with only
//     the req and res bindings: the caller's own request arrives at
//     /api/negotiate, /api/messages, /api/groups or /api/manage, as sent
//     (proxied) or rebuilt by the host (forwarded);
//   - standalone, without a host: the same /api routes, with CORS for local
//     browser pages.
//
// The upstream function takes what SignalR Service posts about clients:
// invocations of hub methods and connects and disconnects, at /upstream and
// /upstream-direct (payload) and /api/upstream, /api/upstream-direct and
// below (proxied, forwarded, standalone); the host never proxies upstream,
// whose events output it must fill, so MessagePack bodies reach only
// upstream-direct intact. Each
// request must pass the checks [upstream.Options] configures, the access
// keys' signature and the service's managed identity token; with none,
// every request is refused. [Handler.HandleEvent] registers a Go function
// for an event, whose result completes an invocation the client awaits.
// See ExampleHandler_HandleEvent and examples/chat.
//
// GET / answers at once: the host polls it until the handler is ready.
// [ServeWhenReady] listens before the handler is built, so that start-up
// takes the longer of reading the settings and starting the server rather
// than their sum; requests that come first wait for the handler.
// The handler talks to SignalR Service only through a [Service], which
// bindings.Client implements. See ExampleNew.
package handler
