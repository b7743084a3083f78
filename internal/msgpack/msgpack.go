package msgpack

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// MessagePack, as much of it as the SignalR hub protocol needs
// (https://github.com/msgpack/msgpack/blob/master/spec.md): the service
// posts a client's MessagePack invocation upstream, and an awaited one is
// answered with a MessagePack completion.

// maxMsgpackDepth bounds nesting, so that a hostile body cannot exhaust the
// stack.
const maxMsgpackDepth = 64

var errMsgpackShort = errors.New("MessagePack data ends too early")

// Reader reads MessagePack values from a byte slice.
type Reader struct {
	b []byte
}

// NewReader reads the values of b.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// Len is the number of bytes not read yet.
func (r *Reader) Len() int { return len(r.b) }

func (r *Reader) next() (byte, error) {
	if len(r.b) == 0 {
		return 0, errMsgpackShort
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c, nil
}

func (r *Reader) take(n uint64) ([]byte, error) {
	if n > uint64(len(r.b)) {
		return nil, errMsgpackShort
	}
	p := r.b[:n]
	r.b = r.b[n:]
	return p, nil
}

// uint reads a big-endian unsigned integer of size bytes.
func (r *Reader) uint(size int) (uint64, error) {
	p, err := r.take(uint64(size))
	if err != nil {
		return 0, err
	}
	var v uint64
	for _, c := range p {
		v = v<<8 | uint64(c)
	}
	return v, nil
}

// length reads the length that follows a str, bin, array, map or ext
// marker of size bytes, and checks that at least min bytes per item
// remain: a length cannot promise more than the data holds.
func (r *Reader) length(size int, perItem uint64) (int, error) {
	n, err := r.uint(size)
	if err != nil {
		return 0, err
	}
	if n*perItem > uint64(len(r.b)) {
		return 0, errMsgpackShort
	}
	return int(n), nil
}

// ArrayLen reads an array header.
func (r *Reader) ArrayLen() (int, error) { return r.headerLen(0x90, 0xdc, 1, "array") }

// MapLen reads a map header.
func (r *Reader) MapLen() (int, error) { return r.headerLen(0x80, 0xde, 2, "map") }

// headerLen reads the header of an array or map: fix is its fix type, whose
// low four bits hold the length, and len16 the type with a 16-bit length,
// followed by the 32-bit one. Each element takes at least perItem bytes, so a
// length the rest of the input cannot hold is refused before any allocation.
func (r *Reader) headerLen(fix, len16 byte, perItem uint64, kind string) (int, error) {
	c, err := r.next()
	switch {
	case err != nil:
		return 0, err
	case c >= fix && c <= fix|0x0f:
		if perItem*uint64(c&0x0f) > uint64(len(r.b)) {
			return 0, errMsgpackShort
		}
		return int(c & 0x0f), nil
	case c == len16:
		return r.length(2, perItem)
	case c == len16+1:
		return r.length(4, perItem)
	}
	return 0, fmt.Errorf("want a MessagePack %s, found %s", kind, msgpackKind(c))
}

// Str reads a string; nil reads as ok false.
func (r *Reader) Str() (s string, ok bool, err error) {
	c, err := r.next()
	if err != nil {
		return "", false, err
	}
	var n int
	switch {
	case c == 0xc0:
		return "", false, nil
	case c >= 0xa0 && c <= 0xbf:
		n = int(c & 0x1f)
	case c == 0xd9:
		n, err = r.length(1, 1)
	case c == 0xda:
		n, err = r.length(2, 1)
	case c == 0xdb:
		n, err = r.length(4, 1)
	default:
		return "", false, fmt.Errorf("want a MessagePack string, found %s", msgpackKind(c))
	}
	if err != nil {
		return "", false, err
	}
	p, err := r.take(uint64(n))
	return string(p), err == nil, err
}

// Int reads an integer of any MessagePack integer format.
func (r *Reader) Int() (int64, error) {
	c, err := r.next()
	switch {
	case err != nil:
		return 0, err
	case c <= 0x7f:
		return int64(c), nil
	case c >= 0xe0:
		return int64(int8(c)), nil
	case c >= 0xcc && c <= 0xcf:
		v, err := r.uint(1 << (c - 0xcc))
		if v > math.MaxInt64 {
			return 0, errors.New("MessagePack integer is out of range")
		}
		return int64(v), err
	case c >= 0xd0 && c <= 0xd3:
		size := 1 << (c - 0xd0)
		v, err := r.uint(size)
		shift := 64 - 8*size
		return int64(v<<shift) >> shift, err
	}
	return 0, fmt.Errorf("want a MessagePack integer, found %s", msgpackKind(c))
}

// AppendJSON reads one value and appends it to dst as JSON: binary data as
// a base64 string and extension types as null, as the C# extension reads
// them; map keys must be strings.
func (r *Reader) AppendJSON(dst []byte, depth int) ([]byte, error) {
	if depth > maxMsgpackDepth {
		return nil, fmt.Errorf("MessagePack data is nested deeper than %d levels", maxMsgpackDepth)
	}
	if len(r.b) == 0 {
		return nil, errMsgpackShort
	}
	c := r.b[0]
	switch {
	case c <= 0x7f || c >= 0xe0 || c >= 0xcc && c <= 0xd3:
		if c == 0xcf {
			// uint64 may exceed int64.
			r.b = r.b[1:]
			v, err := r.uint(8)
			return strconv.AppendUint(dst, v, 10), err
		}
		v, err := r.Int()
		return strconv.AppendInt(dst, v, 10), err
	case c == 0xc0:
		r.b = r.b[1:]
		return append(dst, "null"...), nil
	case c == 0xc2, c == 0xc3:
		r.b = r.b[1:]
		return strconv.AppendBool(dst, c == 0xc3), nil
	case c == 0xca, c == 0xcb:
		r.b = r.b[1:]
		var f float64
		if c == 0xca {
			v, err := r.uint(4)
			if err != nil {
				return nil, err
			}
			f = float64(math.Float32frombits(uint32(v)))
		} else {
			v, err := r.uint(8)
			if err != nil {
				return nil, err
			}
			f = math.Float64frombits(v)
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, errors.New("MessagePack float is NaN or infinite, which JSON cannot hold")
		}
		bits := 64
		if c == 0xca {
			bits = 32
		}
		return strconv.AppendFloat(dst, f, 'g', -1, bits), nil
	case c >= 0xa0 && c <= 0xbf || c >= 0xd9 && c <= 0xdb:
		s, _, err := r.Str()
		if err != nil {
			return nil, err
		}
		return AppendJSONString(dst, s), nil
	case c >= 0xc4 && c <= 0xc6:
		r.b = r.b[1:]
		n, err := r.length(1<<(c-0xc4), 1)
		if err != nil {
			return nil, err
		}
		p, _ := r.take(uint64(n))
		b, _ := json.Marshal(p) // base64, as encoding/json writes []byte
		return append(dst, b...), nil
	case c >= 0x90 && c <= 0x9f || c == 0xdc || c == 0xdd:
		n, err := r.ArrayLen()
		if err != nil {
			return nil, err
		}
		dst = append(dst, '[')
		for i := range n {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = r.AppendJSON(dst, depth+1); err != nil {
				return nil, err
			}
		}
		return append(dst, ']'), nil
	case c >= 0x80 && c <= 0x8f || c == 0xde || c == 0xdf:
		n, err := r.MapLen()
		if err != nil {
			return nil, err
		}
		dst = append(dst, '{')
		for i := range n {
			if i > 0 {
				dst = append(dst, ',')
			}
			key, ok, err := r.Str()
			if err != nil || !ok {
				return nil, errors.New("a MessagePack map key is not a string; JSON objects need string keys")
			}
			dst = append(AppendJSONString(dst, key), ':')
			if dst, err = r.AppendJSON(dst, depth+1); err != nil {
				return nil, err
			}
		}
		return append(dst, '}'), nil
	case c >= 0xd4 && c <= 0xd8 || c >= 0xc7 && c <= 0xc9:
		if err := r.skipExt(); err != nil {
			return nil, err
		}
		return append(dst, "null"...), nil
	}
	// 0xc1 is never used.
	return nil, fmt.Errorf("invalid MessagePack marker 0x%02x", c)
}

// skipExt skips an extension value (fixext or ext 8/16/32).
func (r *Reader) skipExt() error {
	c, _ := r.next()
	var n int
	var err error
	if c >= 0xd4 && c <= 0xd8 {
		n = 1 << (c - 0xd4)
	} else if n, err = r.length(1<<(c-0xc7), 1); err != nil {
		return err
	}
	_, err = r.take(uint64(n) + 1) // the type byte, then the data
	return err
}

// msgpackKind names the kind of value a marker starts, for errors.
func msgpackKind(c byte) string {
	switch {
	case c <= 0x7f || c >= 0xe0 || c >= 0xcc && c <= 0xd3:
		return "an integer"
	case c >= 0x80 && c <= 0x8f || c == 0xde || c == 0xdf:
		return "a map"
	case c >= 0x90 && c <= 0x9f || c == 0xdc || c == 0xdd:
		return "an array"
	case c >= 0xa0 && c <= 0xbf || c >= 0xd9 && c <= 0xdb:
		return "a string"
	case c == 0xc0:
		return "nil"
	case c == 0xc2 || c == 0xc3:
		return "a boolean"
	case c == 0xca || c == 0xcb:
		return "a float"
	case c >= 0xc4 && c <= 0xc6:
		return "binary data"
	default:
		return fmt.Sprintf("marker 0x%02x", c)
	}
}

// AppendJSONString appends s as a JSON string, escaped as encoding/json
// escapes it (HTML characters, U+2028 and U+2029 as \u escapes, invalid
// UTF-8 as U+FFFD), straight into dst: marshaling first would allocate a
// copy of up to six times the string for each one.
func AppendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(append(dst, s[start:i]...), `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(append(dst, s[start:i]...), '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(append(dst, s[start:]...), '"')
}

// Writing.

func appendNil(dst []byte) []byte { return append(dst, 0xc0) }

func appendBool(dst []byte, v bool) []byte {
	if v {
		return append(dst, 0xc3)
	}
	return append(dst, 0xc2)
}

// AppendInt appends v in its shortest integer format.
func AppendInt(dst []byte, v int64) []byte {
	switch {
	case v >= 0:
		return appendUint(dst, uint64(v))
	case v >= -32:
		return append(dst, byte(v))
	case v >= math.MinInt8:
		return append(dst, 0xd0, byte(v))
	case v >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(dst, 0xd1), uint16(v))
	case v >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(dst, 0xd2), uint32(v))
	default:
		return binary.BigEndian.AppendUint64(append(dst, 0xd3), uint64(v))
	}
}

func appendUint(dst []byte, v uint64) []byte {
	switch {
	case v <= 0x7f:
		return append(dst, byte(v))
	case v <= math.MaxUint8:
		return append(dst, 0xcc, byte(v))
	case v <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, 0xcd), uint16(v))
	case v <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(dst, 0xce), uint32(v))
	default:
		return binary.BigEndian.AppendUint64(append(dst, 0xcf), v)
	}
}

func appendFloat(dst []byte, v float64) []byte {
	return binary.BigEndian.AppendUint64(append(dst, 0xcb), math.Float64bits(v))
}

// AppendString appends s in its shortest string format.
func AppendString(dst []byte, s string) []byte {
	n := len(s)
	switch {
	case n <= 31:
		dst = append(dst, 0xa0|byte(n))
	case n <= math.MaxUint8:
		dst = append(dst, 0xd9, byte(n))
	case n <= math.MaxUint16:
		dst = binary.BigEndian.AppendUint16(append(dst, 0xda), uint16(n))
	default:
		dst = binary.BigEndian.AppendUint32(append(dst, 0xdb), uint32(n))
	}
	return append(dst, s...)
}

// AppendArrayHeader appends the header of an array of n values.
func AppendArrayHeader(dst []byte, n int) []byte {
	switch {
	case n <= 15:
		return append(dst, 0x90|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, 0xdc), uint16(n))
	default:
		return binary.BigEndian.AppendUint32(append(dst, 0xdd), uint32(n))
	}
}

// AppendMapHeader appends the header of a map of n pairs.
func AppendMapHeader(dst []byte, n int) []byte {
	switch {
	case n <= 15:
		return append(dst, 0x80|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, 0xde), uint16(n))
	default:
		return binary.BigEndian.AppendUint32(append(dst, 0xdf), uint32(n))
	}
}

// AppendFromJSON appends the JSON value data as MessagePack:
// integers as integers, other numbers as float64, object keys sorted.
func AppendFromJSON(dst []byte, data []byte) ([]byte, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return appendValue(dst, v), nil
}

// appendValue appends what encoding/json decodes with UseNumber.
func appendValue(dst []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return appendNil(dst)
	case bool:
		return appendBool(dst, v)
	case string:
		return AppendString(dst, v)
	case json.Number:
		if i, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			return AppendInt(dst, i)
		}
		if u, err := strconv.ParseUint(string(v), 10, 64); err == nil {
			return appendUint(dst, u)
		}
		f, _ := strconv.ParseFloat(string(v), 64) // JSON numbers parse; huge ones become ±Inf
		return appendFloat(dst, f)
	case []any:
		dst = AppendArrayHeader(dst, len(v))
		for _, e := range v {
			dst = appendValue(dst, e)
		}
		return dst
	case map[string]any:
		dst = AppendMapHeader(dst, len(v))
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			dst = appendValue(AppendString(dst, k), v[k])
		}
		return dst
	}
	panic(fmt.Sprintf("appendValue: %T is not a JSON value", v))
}

// AppendVarint appends the hub protocol's length prefix: the length in
// 7-bit groups, least significant first, high bit set on all but the last,
// which is the unsigned varint of encoding/binary.
func AppendVarint(dst []byte, n int) []byte {
	return binary.AppendUvarint(dst, uint64(n))
}
