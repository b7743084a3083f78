// Package emulator plays Azure SignalR Service and Microsoft Entra ID on
// loopback, so the handler can be run and tested on one machine with no
// Azure account. It is shaped like net/http/httptest: NewServer returns a
// started Server with the URLs a client needs, and Close waits for its work.
//
// Entra ID is played by an App Service managed identity endpoint
// (Server.IdentityEndpoint, Server.IdentityHeader) and an https authority
// (Server.AuthorityURL, trusted by Server.Client and Server.CACertPEM) with
// per-tenant OpenID configuration and a client-credentials token endpoint
// checking client secrets and certificate assertions. Server.Credential
// mints the same tokens in-process. Tokens are RS256, audience
// https://signalr.azure.com, with tid, oid and appid.
//
// SignalR Service is played with its role-based access (Role, Server.Assign),
// the auth API handing out temporary keys, :generateToken, client negotiate
// and WebSocket connections speaking the JSON or MessagePack hub protocol,
// the REST API 2024-12-01 with real bookkeeping of connections, users and
// groups (routed with http.ServeMux patterns) — closing connections with a
// reason the client reads in its close message, existence checks, listing a
// group's connections page by page, user memberships with a ttl, and
// :invoke answered by the connected client's own completion —, and upstream (Options.Upstream): each
// connection, disconnection and client invocation posted to the first
// matching rule's URL with the X-ASRS-* headers, a signature per access key
// and, with managed identity auth, a v1.0 token of the resource's own
// identity (Server.ServiceIdentity), the reply passed back to the client.
// The authority publishes its keys under the tenant's v1 and v2.0 OpenID
// configuration; Server.RotateSigningKey rolls them. Tests steer it with a
// movable clock (Server.Advance), counters (Server.Counts) and fault
// injection (Server.Fail, Server.Inject, Server.Delay,
// Server.DropConnections, Options.UpstreamTokenFlaw,
// Server.RegenerateAccessKey), and play a service restart (Server.Restart,
// Server.RevokeTokens, Server.ForgetKeys).
//
// See Example for a start; cmd/emulator runs it as a process.
package emulator
