// Package hostproto reads what the Azure Functions host hands a custom
// handler (azure-functions-host src/WebJobs.Script/Workers/Http): the
// invocation payload, in one pass, keeping of its HTTP trigger only what a
// function needs; and, for a caller's request on an /api route, whether the
// host proxied or forwarded it ([ArrivalOf]). Its reader
// accepts exactly the JSON encoding/json accepts and allocates only for the
// parts kept.
package hostproto
