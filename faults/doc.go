// Package faults holds the fault-injection tests of the whole stack, run in
// one process on loopback: the local stand-in of SignalR Service and Entra
// ID (emulator), the endpoints (settings), the client (bindings) and the
// custom handler (handler), called with plain HTTP as the Functions host and
// browsers call it.
//
// Each test breaks one thing, such as Entra ID, the auth API, a REST send or
// the network, and checks what the caller gets, what the log says, that the
// stack recovers once the fault is gone, that every message answered 202
// reached a connected client, and that no secret reaches a log line.
// Time-dependent cases move the stand-in's clock instead of sleeping.
//
// The package has no code of its own, only tests.
package faults
