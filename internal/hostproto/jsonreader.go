package hostproto

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// jsonReader reads an invocation payload in one pass, decoding only the
// values asked for and skipping the rest, which it still checks to be valid
// JSON, as encoding/json would. encoding/json reads such a payload several
// times over (validation, then decoding, then each raw value again), which
// made a payload negotiate ten times the cost of a forwarded one.
//
// The first error sticks: later calls do nothing, and err tells what and
// where.
type jsonReader struct {
	b   []byte
	i   int
	err error
	// searched counts the bytes the string searches looked at, which is
	// where a hostile payload could make the reader go over the same bytes
	// again; the cost tests hold it to a multiple of the payload's size.
	searched int
}

// maxDepth is encoding/json's nesting limit, so that both accept the same
// documents.
const maxDepth = 10000

func (r *jsonReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("at byte %d: %s", r.i, fmt.Sprintf(format, args...))
	}
}

// peek skips white space and returns the next byte, or 0 at the end (or
// at a NUL byte, which is not valid there either).
func (r *jsonReader) peek() byte {
	for r.i < len(r.b) {
		switch c := r.b[r.i]; c {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return c
		}
	}
	return 0
}

// enter consumes open ('{' or '['), or fails saying what was wanted.
func (r *jsonReader) enter(open byte, want string) bool {
	if r.err != nil {
		return false
	}
	if r.peek() != open {
		r.fail("want %s", want)
		return false
	}
	r.i++
	return true
}

// more reports whether the object or array being read has another member,
// consuming the comma before it, or the closing byte after the last; first
// is true for the first call after enter.
func (r *jsonReader) more(closing byte, first bool) bool {
	if r.err != nil {
		return false
	}
	c := r.peek()
	switch {
	case c == closing:
		r.i++
		return false
	case !first && c == ',':
		r.i++
		if r.peek() == closing {
			r.fail("want a value after ','")
			return false
		}
		return true
	case first:
		return true
	}
	r.fail("want ',' or '%c'", closing)
	return false
}

// key reads an object member's name and the colon after it. The name is a
// slice of the payload when it has no escapes.
func (r *jsonReader) key() []byte {
	if r.peek() != '"' {
		r.fail("want a member name")
		return nil
	}
	raw, plain := r.rawString()
	if r.peek() != ':' {
		r.fail("want ':' after a member name")
		return nil
	}
	r.i++
	if plain {
		return raw[1 : len(raw)-1]
	}
	var s string
	_ = json.Unmarshal(raw, &s) // rawString checked it
	return []byte(s)
}

// str reads a string value; ok is false (and nothing is consumed) when the
// next value is not a string.
func (r *jsonReader) str() (s string, ok bool) {
	if r.err != nil || r.peek() != '"' {
		return "", false
	}
	raw, plain := r.rawString()
	if r.err != nil {
		return "", false
	}
	if plain && utf8.Valid(raw) {
		return string(raw[1 : len(raw)-1]), true
	}
	// Escapes and invalid UTF-8 are rare in what is read: let encoding/json decode
	// them, so that both read every string alike.
	_ = json.Unmarshal(raw, &s)
	return s, true
}

// null consumes null and reports whether it was there.
func (r *jsonReader) null() bool {
	if r.err == nil && r.peek() == 'n' && bytes.HasPrefix(r.b[r.i:], []byte("null")) {
		r.i += 4
		return true
	}
	return false
}

// rawString consumes a string and returns it with its quotes; plain says
// it holds no escapes, so that (when valid UTF-8) its bytes are its value.
// It is linear in the string's length: the closing quote found by one
// search serves every escape before it, rather than being searched for
// again after each escape.
func (r *jsonReader) rawString() (raw []byte, plain bool) {
	start := r.i
	r.i++ // the opening quote
	plain = true
	quote := -1 // the next quote at or after r.i, once found
	for {
		if quote < r.i {
			j := bytes.IndexByte(r.b[r.i:], '"')
			if j < 0 {
				r.searched += len(r.b) - r.i
				r.i = len(r.b)
				r.fail("unterminated string")
				return nil, false
			}
			r.searched += j + 1
			quote = r.i + j
		}
		seg := r.b[r.i:quote]
		k := bytes.IndexByte(seg, '\\')
		if k < 0 {
			r.searched += len(seg)
			if !r.checkChars(seg) {
				return nil, false
			}
			r.i = quote + 1
			return r.b[start:r.i], plain
		}
		r.searched += k + 1
		// An escape comes first: check what precedes it, then the escape.
		if !r.checkChars(seg[:k]) {
			return nil, false
		}
		plain = false
		r.i += k + 1
		if r.i >= len(r.b) {
			r.fail("unterminated string")
			return nil, false
		}
		switch r.b[r.i] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			r.i++
		case 'u':
			if r.i+5 > len(r.b) || !isHex4(r.b[r.i+1:r.i+5]) {
				r.fail("invalid \\u escape")
				return nil, false
			}
			r.i += 5
		default:
			r.fail("invalid escape '\\%c'", r.b[r.i])
			return nil, false
		}
	}
}

// checkChars refuses the control characters JSON strings may not hold. It
// looks at eight bytes at a time: skipped strings are most of a payload.
func (r *jsonReader) checkChars(seg []byte) bool {
	n := 0
	for ; n+8 <= len(seg); n += 8 {
		// A byte below 0x20 borrows into its top bit (0x20 subtracted),
		// unless its top bit was set already.
		x := binary.LittleEndian.Uint64(seg[n:])
		if (x-0x2020202020202020)&^x&0x8080808080808080 != 0 {
			break
		}
	}
	for ; n < len(seg); n++ {
		if c := seg[n]; c < 0x20 {
			r.i += n
			r.fail("control character 0x%02x in a string", c)
			return false
		}
	}
	return true
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// skip consumes one value of any kind, checking it.
func (r *jsonReader) skip() { r.skipDepth(0) }

// raw consumes one value and returns its JSON text, a slice of the payload.
func (r *jsonReader) raw() []byte {
	r.peek()
	start := r.i
	r.skip()
	if r.err != nil {
		return nil
	}
	return r.b[start:r.i]
}

func (r *jsonReader) skipDepth(depth int) {
	if r.err != nil {
		return
	}
	if depth > maxDepth {
		r.fail("nested deeper than %d", maxDepth)
		return
	}
	switch c := r.peek(); {
	case c == '{':
		r.i++
		for n := 0; r.more('}', n == 0); n++ {
			r.key()
			r.skipDepth(depth + 1)
		}
	case c == '[':
		r.i++
		for n := 0; r.more(']', n == 0); n++ {
			r.skipDepth(depth + 1)
		}
	case c == '"':
		r.rawString()
	case c == '-' || '0' <= c && c <= '9':
		r.number()
	case c == 't':
		r.literal("true")
	case c == 'f':
		r.literal("false")
	case c == 'n':
		r.literal("null")
	case r.i >= len(r.b):
		r.fail("unexpected end of input")
	default:
		r.fail("invalid character %q", c)
	}
}

func (r *jsonReader) literal(word string) {
	if !bytes.HasPrefix(r.b[r.i:], []byte(word)) {
		r.fail("invalid literal, want %s", word)
		return
	}
	r.i += len(word)
}

// number consumes a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (r *jsonReader) number() {
	if r.i < len(r.b) && r.b[r.i] == '-' {
		r.i++
	}
	switch {
	case r.i < len(r.b) && r.b[r.i] == '0':
		r.i++
	case r.digits() == 0:
		r.fail("invalid number")
		return
	}
	if r.i < len(r.b) && r.b[r.i] == '.' {
		r.i++
		if r.digits() == 0 {
			r.fail("invalid number: want digits after '.'")
			return
		}
	}
	if r.i < len(r.b) && (r.b[r.i] == 'e' || r.b[r.i] == 'E') {
		r.i++
		if r.i < len(r.b) && (r.b[r.i] == '+' || r.b[r.i] == '-') {
			r.i++
		}
		if r.digits() == 0 {
			r.fail("invalid number: want digits in the exponent")
		}
	}
}

func (r *jsonReader) digits() int {
	n := 0
	for r.i < len(r.b) && '0' <= r.b[r.i] && r.b[r.i] <= '9' {
		r.i++
		n++
	}
	return n
}

// end checks that nothing but white space follows the document.
func (r *jsonReader) end() {
	if r.peek(); r.err == nil && r.i < len(r.b) {
		r.fail("invalid character %q after the document", r.b[r.i])
	}
}

// ArrayElement returns the i-th element of the JSON array array, or nil and
// the number of elements when there is no such element (or array is null
// or no array). It reads only as far as the element.
func ArrayElement(array []byte, i int) (elem []byte, n int) {
	var c ArrayCursor
	return c.Element(array, i)
}

// ArrayCursor reads elements of one JSON array by index, as ArrayElement
// does, going on from where its last read stopped when the element asked
// for comes after it: reading every element in turn costs one pass over the
// array, not one pass per element. An element before the last one read, or
// another array, starts again from the beginning.
type ArrayCursor struct {
	r    jsonReader
	next int  // the index of the element r stands before
	end  bool // r passed the closing bracket, or the array is no array
	// read counts the bytes passed over, for the cost tests.
	read int
}

// Element returns the i-th element of array, or nil and the number of
// elements when there is none.
func (c *ArrayCursor) Element(array []byte, i int) (elem []byte, n int) {
	if i < c.next || len(array) != len(c.r.b) || len(array) > 0 && &array[0] != &c.r.b[0] {
		c.read += c.r.i
		c.r, c.next, c.end = jsonReader{b: array}, 0, false
		if c.r.null() || !c.r.enter('[', "an array") {
			c.end = true
		}
	}
	for !c.end {
		if !c.r.more(']', c.next == 0) {
			c.end = true
			break
		}
		c.next++
		if c.next-1 == i {
			return c.r.raw(), i
		}
		c.r.skip()
	}
	return nil, c.next
}
