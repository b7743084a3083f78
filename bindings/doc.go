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
// refusals go on. Failures the user can fix come as *Error, naming the
// missing role or the endpoint to check, and are logged once per change of
// state to Options.Logger (nothing is logged without one).
//
// REST calls go through azcore's pipeline (Options embeds
// azcore.ClientOptions). A send or group action is repeated only when the
// service cannot have taken it: the request was never written, or the
// service itself answered 429 with its error code. Every other failure
// after the request was written (a gateway's 502, 503 or 504, a 500, a
// reset) is reported with Outcome Unknown: it may have been delivered.
// OutcomeOf tells NotSent, Refused and Unknown apart.
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
// azcore.TokenCredential with NewFromCredential, or from EndpointConfig
// values with New, for several endpoints or an access key. Package settings
// reads a Functions app's settings and connection strings and converts
// them (settings.Endpoint.Config); this package knows nothing of them.
// Messages name what the program passed: each endpoint's Label (else its
// service URI), its Identity (else the credential's type), and the Options
// fields (or the names in Options.OptionNames).
//
// Messages and group actions decode from the JSON of the C# extension's
// SignalRMessage and SignalRGroupAction with DecodeMessages and
// DecodeGroupActions. The examples show Microsoft Entra ID with a managed
// identity and the error of a missing role (ExampleNewFromCredential,
// ExampleNewFromCredential_missingRole), negotiate in access-key mode
// (ExampleClient_ConnectionInfo), Send and Apply against a loopback stand-in
// (ExampleClient_Send, ExampleClient_Apply), and decoding
// (ExampleDecodeMessages, ExampleDecodeGroupActions).
package bindings
