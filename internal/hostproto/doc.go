// Package hostproto reads what the Azure Functions host posts to a custom
// handler in payload mode: the invocation payload, in one pass, keeping of
// its HTTP trigger only what a function needs
// (azure-functions-host src/WebJobs.Script/Workers/Http). Its reader
// accepts exactly the JSON encoding/json accepts and allocates only for the
// parts kept.
package hostproto
