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
// REST calls carry the Entra token itself. Failures the user can fix come as
// *Error, naming the missing role, the tenant or the setting to check, and
// are logged once per change of state.
//
// With several endpoints, as the C# SDK routes: negotiate picks an online
// primary (else secondary); messages and group actions go to every online
// endpoint, skipping those whose background health check fails, and a send
// some endpoint took is not failed, so a retry cannot duplicate it.
// ErrNoOnlineEndpoint says none is online.
//
// Messages and group actions decode from the JSON of the C# extension's
// SignalRMessage and SignalRGroupAction with DecodeMessages and
// DecodeGroupActions. The examples show negotiate in access-key mode
// (ExampleClient_ConnectionInfo), Send and Apply against a loopback stand-in
// (ExampleClient_Send, ExampleClient_Apply), and decoding
// (ExampleDecodeMessages, ExampleDecodeGroupActions).
package bindings
