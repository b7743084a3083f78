// Package bindings is what an Azure Functions app needs from Azure SignalR
// Service in serverless mode: negotiate (client URL and access token),
// messages and group actions, over one or more endpoints, authorized with
// Microsoft Entra ID or an access key.
//
// With Entra ID, a Client gets a token from each endpoint's credential,
// trades it at the auth API for a temporary access key (valid 90 minutes,
// replaced every hour in the background, one fetch at a time), and signs
// client tokens with it. When the identity may not get the key but holds
// SignalR REST API Owner, NegotiateAuto lets the service sign instead.
// REST calls carry the Entra token itself. When the service refuses that
// token with 401 (it was revoked, or the service restarted), the Client gets
// a new token and temporary key and tries once more, backing off while the
// refusals go on. Failures the user can fix come as
// *Error, naming the missing role, the tenant or the setting to check, and
// are logged once per change of state.
//
// With several endpoints, as the C# SDK routes: negotiate picks an online
// primary (else secondary); messages and group actions go to every online
// endpoint, skipping those whose background health check fails, and a send
// some endpoint took is not failed, so a retry cannot duplicate it.
// SendRouted and ApplyRouted return a Route: which endpoints took the item,
// failed it, or were skipped. ErrNoOnlineEndpoint says none is online; a
// name in endpoints that matches none is an *InputError.
//
// A Go program makes a Client from a service URI and any
// azcore.TokenCredential with NewFromCredential, or from a connection string
// with NewFromConnectionString; New takes settings.Endpoint values, as
// settings.Load reads them from a Functions app's settings, for several
// endpoints. Messages name what the program passed: the credential's type,
// the service URI and the Options fields.
//
// Messages and group actions decode from the JSON of the C# extension's
// SignalRMessage and SignalRGroupAction with DecodeMessages and
// DecodeGroupActions. The examples show Microsoft Entra ID with a managed
// identity and the error of a missing role (ExampleNewFromCredential,
// ExampleNewFromCredential_missingRole), connection strings
// (ExampleNewFromConnectionString), negotiate in access-key mode
// (ExampleClient_ConnectionInfo), Send and Apply against a loopback stand-in
// (ExampleClient_Send, ExampleClient_Apply), and decoding
// (ExampleDecodeMessages, ExampleDecodeGroupActions).
package bindings
