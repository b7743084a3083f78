// Package upstream is the trust boundary for what SignalR Service posts to
// an app's upstream URL: it decides whether a request comes from the
// service, by the access keys' X-ASRS-Signature and the bearer token of an
// upstream rule's ManagedIdentity auth (signed by a key of the tenant's
// OpenID configuration, fetched and refreshed here), and reads the event
// the request carries, in the serverless protocol's JSON or MessagePack.
//
// A [Receiver] refuses every request until a check is configured in
// [Options]; every configured check must pass. [Event] is what a Go
// function registered for an event receives; [Completion] answers an
// invocation the client awaits.
//
// The service's side is described at
// https://learn.microsoft.com/azure/azure-signalr/concept-upstream and
// in Azure/azure-signalr (src/Microsoft.Azure.SignalR.Serverless.Protocols).
package upstream
