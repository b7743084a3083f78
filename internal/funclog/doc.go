// Package funclog logs the way the Azure Functions host reads a custom
// handler: the host files stdout at Information and stderr at Warning or
// Error, and a payload reply's Logs under the invocation
// (azure-functions-host src/WebJobs.Script/Workers/ProcessManagement/WorkerProcess.cs
// and src/WebJobs.Script/Workers/Http/DefaultHttpWorkerService.cs).
package funclog
