// Package msgpack reads MessagePack into JSON and writes JSON as
// MessagePack, the subset the SignalR hub protocol uses, and frames hub
// protocol messages with their varint length prefix. Its reader checks
// every length against the bytes that remain before it allocates, so a
// hostile body costs no more memory than its own size.
package msgpack
