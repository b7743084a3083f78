package hostproto

import "strconv"

// Truncate cuts a caller's value to n bytes for a log record or a reply.
func Truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// Quote quotes a caller's value for a message, cut to a sane length.
func Quote(s string) string { return strconv.Quote(Truncate(s, 200)) }
