package emulator

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// The stand-in's own MessagePack codec: the few forms the MessagePack hub
// protocol needs (https://github.com/msgpack/msgpack/blob/master/spec.md).
// The stand-in plays the service, so it shares no code with the handler's
// decoder.

// packer appends MessagePack values to b, each in its shortest form.
type packer struct{ b []byte }

func (p *packer) nil() { p.b = append(p.b, 0xc0) }

func (p *packer) bool(v bool) {
	if v {
		p.b = append(p.b, 0xc3)
	} else {
		p.b = append(p.b, 0xc2)
	}
}

func (p *packer) int(v int64) {
	switch {
	case v >= 0:
		p.uint(uint64(v))
	case v >= -32:
		p.b = append(p.b, byte(v))
	case v >= math.MinInt8:
		p.b = append(p.b, 0xd0, byte(v))
	case v >= math.MinInt16:
		p.b = binary.BigEndian.AppendUint16(append(p.b, 0xd1), uint16(v))
	case v >= math.MinInt32:
		p.b = binary.BigEndian.AppendUint32(append(p.b, 0xd2), uint32(v))
	default:
		p.b = binary.BigEndian.AppendUint64(append(p.b, 0xd3), uint64(v))
	}
}

func (p *packer) uint(v uint64) {
	switch {
	case v < 128:
		p.b = append(p.b, byte(v))
	case v <= math.MaxUint8:
		p.b = append(p.b, 0xcc, byte(v))
	case v <= math.MaxUint16:
		p.b = binary.BigEndian.AppendUint16(append(p.b, 0xcd), uint16(v))
	case v <= math.MaxUint32:
		p.b = binary.BigEndian.AppendUint32(append(p.b, 0xce), uint32(v))
	default:
		p.b = binary.BigEndian.AppendUint64(append(p.b, 0xcf), v)
	}
}

func (p *packer) float(v float64) {
	p.b = binary.BigEndian.AppendUint64(append(p.b, 0xcb), math.Float64bits(v))
}

func (p *packer) str(s string) {
	n := len(s)
	switch {
	case n < 32:
		p.b = append(p.b, 0xa0|byte(n))
	case n <= math.MaxUint8:
		p.b = append(p.b, 0xd9, byte(n))
	case n <= math.MaxUint16:
		p.b = binary.BigEndian.AppendUint16(append(p.b, 0xda), uint16(n))
	default:
		p.b = binary.BigEndian.AppendUint32(append(p.b, 0xdb), uint32(n))
	}
	p.b = append(p.b, s...)
}

// strOrNil writes an empty string as nil, as the hub protocol does for a
// missing invocation id or close error.
func (p *packer) strOrNil(s string) {
	if s == "" {
		p.nil()
		return
	}
	p.str(s)
}

func (p *packer) header(n int, fix, b16, b32 byte) {
	switch {
	case n < 16:
		p.b = append(p.b, fix|byte(n))
	case n <= math.MaxUint16:
		p.b = binary.BigEndian.AppendUint16(append(p.b, b16), uint16(n))
	default:
		p.b = binary.BigEndian.AppendUint32(append(p.b, b32), uint32(n))
	}
}

func (p *packer) array(n int) { p.header(n, 0x90, 0xdc, 0xdd) }
func (p *packer) mapOf(n int) { p.header(n, 0x80, 0xde, 0xdf) }

// json writes a JSON value as MessagePack: integers as integers, other
// numbers as float64, objects as maps with their keys sorted.
func (p *packer) json(raw json.RawMessage) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return err
	}
	return p.value(v)
}

func (p *packer) value(v any) error {
	switch v := v.(type) {
	case nil:
		p.nil()
	case bool:
		p.bool(v)
	case string:
		p.str(v)
	case json.Number:
		if i, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			p.int(i)
		} else if u, err := strconv.ParseUint(string(v), 10, 64); err == nil {
			p.uint(u)
		} else if f, err := v.Float64(); err == nil {
			p.float(f)
		} else {
			return fmt.Errorf("the number %s does not fit a float64", v)
		}
	case []any:
		p.array(len(v))
		for _, e := range v {
			if err := p.value(e); err != nil {
				return err
			}
		}
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		p.mapOf(len(keys))
		for _, k := range keys {
			p.str(k)
			if err := p.value(v[k]); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("cannot write %T as MessagePack", v)
	}
	return nil
}

var errShort = errors.New("the MessagePack data ends early")

// unpacker reads MessagePack values from b, from offset i.
type unpacker struct {
	b []byte
	i int
}

func (u *unpacker) byte() (byte, error) {
	if u.i >= len(u.b) {
		return 0, errShort
	}
	c := u.b[u.i]
	u.i++
	return c, nil
}

// uintN reads an n-byte big-endian unsigned integer.
func (u *unpacker) uintN(n int) (uint64, error) {
	if len(u.b)-u.i < n {
		return 0, errShort
	}
	var v uint64
	for _, c := range u.b[u.i : u.i+n] {
		v = v<<8 | uint64(c)
	}
	u.i += n
	return v, nil
}

// next reads a value's type byte and, for the forms with a length or
// count, that length: its size in bytes for strings, binaries and
// extensions (payload after the length), its element count for arrays and
// maps, and the payload size of fixed-size scalars.
func (u *unpacker) next() (kind byte, n uint64, err error) {
	c, err := u.byte()
	if err != nil {
		return 0, 0, err
	}
	switch {
	case c <= 0x7f, c >= 0xe0:
		return 'i', 0, nil
	case c&0xe0 == 0xa0:
		return 's', uint64(c & 0x1f), nil
	case c&0xf0 == 0x90:
		return 'a', uint64(c & 0x0f), nil
	case c&0xf0 == 0x80:
		return 'm', uint64(c & 0x0f), nil
	}
	sized := func(kind byte, lenBytes int) (byte, uint64, error) {
		n, err := u.uintN(lenBytes)
		return kind, n, err
	}
	switch c {
	case 0xc0:
		return 'z', 0, nil
	case 0xc2, 0xc3:
		return 'b', 0, nil
	case 0xcc, 0xd0:
		return 'I', 1, nil
	case 0xcd, 0xd1:
		return 'I', 2, nil
	case 0xce, 0xd2, 0xca:
		return 'I', 4, nil
	case 0xcf, 0xd3, 0xcb:
		return 'I', 8, nil
	case 0xd9:
		return sized('s', 1)
	case 0xda:
		return sized('s', 2)
	case 0xdb:
		return sized('s', 4)
	case 0xc4:
		return sized('x', 1)
	case 0xc5:
		return sized('x', 2)
	case 0xc6:
		return sized('x', 4)
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		return 'x', 1 + 1<<(c-0xd4), nil
	case 0xc7:
		kind, n, err := sized('x', 1)
		return kind, n + 1, err
	case 0xc8:
		kind, n, err := sized('x', 2)
		return kind, n + 1, err
	case 0xc9:
		kind, n, err := sized('x', 4)
		return kind, n + 1, err
	case 0xdc:
		return sized('a', 2)
	case 0xdd:
		return sized('a', 4)
	case 0xde:
		return sized('m', 2)
	case 0xdf:
		return sized('m', 4)
	}
	return 0, 0, fmt.Errorf("0x%02x is not a MessagePack type", c)
}

// skipBytes moves past n bytes of payload.
func (u *unpacker) skipBytes(n uint64) error {
	if uint64(len(u.b)-u.i) < n {
		return errShort
	}
	u.i += int(n)
	return nil
}

// skip moves past one whole value. Nesting is bounded, so hostile data
// cannot exhaust the stack.
func (u *unpacker) skip(depth int) error {
	if depth > 64 {
		return errors.New("the MessagePack data nests deeper than 64 levels")
	}
	kind, n, err := u.next()
	if err != nil {
		return err
	}
	switch kind {
	case 's', 'x', 'I':
		return u.skipBytes(n)
	case 'a', 'm':
		if kind == 'm' {
			n *= 2
		}
		// Each element takes at least a byte: a count beyond the data is a lie.
		if n > uint64(len(u.b)-u.i) {
			return errShort
		}
		for range n {
			if err := u.skip(depth + 1); err != nil {
				return err
			}
		}
	}
	return nil
}

// raw reads one whole value and returns its bytes.
func (u *unpacker) raw() ([]byte, error) {
	start := u.i
	if err := u.skip(0); err != nil {
		return nil, err
	}
	return u.b[start:u.i], nil
}

// arrayLen reads an array header.
func (u *unpacker) arrayLen() (int, error) {
	kind, n, err := u.next()
	if err != nil {
		return 0, err
	}
	if kind != 'a' {
		return 0, errors.New("not a MessagePack array")
	}
	if n > uint64(len(u.b)-u.i) {
		return 0, errShort
	}
	return int(n), nil
}

// int reads an integer of any width.
func (u *unpacker) int() (int64, error) {
	if u.i >= len(u.b) {
		return 0, errShort
	}
	c := u.b[u.i]
	kind, n, err := u.next()
	if err != nil {
		return 0, err
	}
	switch {
	case kind == 'i':
		return int64(int8(c)), nil
	case kind == 'I' && c >= 0xcc && c <= 0xcf:
		v, err := u.uintN(int(n))
		if v > math.MaxInt64 {
			return 0, errors.New("the integer does not fit an int64")
		}
		return int64(v), err
	case kind == 'I' && c >= 0xd0 && c <= 0xd3:
		v, err := u.uintN(int(n))
		shift := 64 - 8*n
		return int64(v<<shift) >> shift, err
	}
	return 0, errors.New("not a MessagePack integer")
}

// str reads a string; nil reads as "".
func (u *unpacker) str() (string, error) {
	kind, n, err := u.next()
	if err != nil {
		return "", err
	}
	switch kind {
	case 'z':
		return "", nil
	case 's':
		start := u.i
		if err := u.skipBytes(n); err != nil {
			return "", err
		}
		return string(u.b[start:u.i]), nil
	}
	return "", errors.New("not a MessagePack string")
}

// maxPrefixedLen bounds a length prefix, as the hub protocol does (2 GB).
const maxPrefixedLen = math.MaxInt32

// splitPrefixed cuts the length-prefixed messages off data: each is a
// VarInt length (7 bits a byte, least significant first, at most 5 bytes)
// and that many bytes. rest is an unfinished message to keep.
func splitPrefixed(data []byte) (msgs [][]byte, rest []byte, err error) {
	for len(data) > 0 {
		var n uint64
		i := 0
		for ; ; i++ {
			if i == len(data) {
				return msgs, data, nil
			}
			if i == 5 {
				return msgs, nil, errors.New("the length prefix is longer than 5 bytes")
			}
			n |= uint64(data[i]&0x7f) << (7 * i)
			if data[i]&0x80 == 0 {
				break
			}
		}
		if n > maxPrefixedLen {
			return msgs, nil, errors.New("the message is over 2 GB")
		}
		if uint64(len(data)-i-1) < n {
			return msgs, data, nil
		}
		msgs = append(msgs, data[i+1:i+1+int(n)])
		data = data[i+1+int(n):]
	}
	return msgs, nil, nil
}

// prefixed frames a message with its VarInt length.
func prefixed(msg []byte) []byte {
	out := make([]byte, 0, len(msg)+5)
	n := uint64(len(msg))
	for n >= 0x80 {
		out = append(out, byte(n)|0x80)
		n >>= 7
	}
	return append(append(out, byte(n)), msg...)
}
