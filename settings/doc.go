// Package settings turns the app settings of a Functions app into values: the
// handler's own settings (Handler) and the SignalR Service endpoints it talks
// to (Endpoint), each with a ready azidentity credential or an access key.
// It makes no network call.
//
// Load reads the process environment, where the Functions host puts every app
// setting; UseLocalSettings first copies a local.settings.json into it when the
// handler runs standalone. A connection is named by a prefix, by default
// AzureSignalRConnectionString (SIGNALR_CONNECTION_SETTING names another),
// and is found in the C# extension's order: a connection string
// (ParseConnectionString) in ConnectionStrings:<name> (CUSTOMCONNSTR_<name> on
// App Service), else at <name>, else an identity section such as
// AzureSignalRConnectionString__serviceUri with its credential keys, chosen
// in Microsoft.Extensions.Azure's order. Azure__SignalR__Endpoints__<name>
// (and its __primary and __secondary) add more endpoints. Both ":" and "__"
// separate names, and names match case-insensitively. Where C# picks one of
// two settings and runs, so does Load, with a warning.
//
// Problems come back all at once, one *SettingError each, naming the setting,
// the bad value (never a secret) and the fix. See the Example functions.
package settings
