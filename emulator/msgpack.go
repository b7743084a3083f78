package emulator

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// MessagePack is read and written with github.com/vmihailenco/msgpack/v5:
// the stand-in plays the service, so its reading of the format
// (https://github.com/msgpack/msgpack/blob/master/spec.md) is independent
// of the handler's own decoder.

// maxDepth bounds the nesting of values read from a client; the library's
// Skip recurses without a bound.
const maxDepth = 64

var errTooDeep = fmt.Errorf("the MessagePack data nests deeper than %d levels", maxDepth)

// reader reads MessagePack values from b and knows its offset in b, so
// that whole values can be cut out as they were written.
type reader struct {
	b []byte
	r *bytes.Reader
	d *msgpack.Decoder
}

func newReader(b []byte) *reader {
	r := bytes.NewReader(b)
	// A *bytes.Reader is an io.ByteScanner, so the decoder reads it
	// directly, without a buffer of its own: r's offset is the decoder's.
	return &reader{b: b, r: r, d: msgpack.NewDecoder(r)}
}

func (rd *reader) offset() int { return len(rd.b) - rd.r.Len() }

// skip moves past one whole value, no deeper than maxDepth.
func (rd *reader) skip(depth int) error {
	if depth > maxDepth {
		return errTooDeep
	}
	c, err := rd.d.PeekCode()
	if err != nil {
		return err
	}
	n := 0
	switch {
	case isArray(c):
		n, err = rd.d.DecodeArrayLen()
	case isMap(c):
		n, err = rd.d.DecodeMapLen()
		n *= 2
	default:
		return rd.d.Skip()
	}
	if err != nil {
		return err
	}
	for range n {
		if err := rd.skip(depth + 1); err != nil {
			return err
		}
	}
	return nil
}

// raw reads one whole value and returns its bytes.
func (rd *reader) raw() ([]byte, error) {
	start := rd.offset()
	if err := rd.skip(0); err != nil {
		return nil, err
	}
	return rd.b[start:rd.offset()], nil
}

// arrayLen reads an array header; nil is not an array.
func (rd *reader) arrayLen() (int, error) {
	c, err := rd.d.PeekCode()
	if err != nil {
		return 0, err
	}
	if !isArray(c) {
		return 0, errors.New("not a MessagePack array")
	}
	return rd.d.DecodeArrayLen()
}

// str reads a string; nil reads as "".
func (rd *reader) str() (string, error) {
	c, err := rd.d.PeekCode()
	if err != nil {
		return "", err
	}
	if c != msgpcode.Nil && !msgpcode.IsString(c) {
		return "", errors.New("not a MessagePack string")
	}
	return rd.d.DecodeString()
}

// jsonValue reads one value as JSON: binary as base64 text (as
// System.Text.Json writes a byte array), map keys other than strings as
// their JSON text.
func (rd *reader) jsonValue(depth int) (any, error) {
	if depth > maxDepth {
		return nil, errTooDeep
	}
	c, err := rd.d.PeekCode()
	if err != nil {
		return nil, err
	}
	switch {
	case isArray(c):
		n, err := rd.d.DecodeArrayLen()
		if err != nil {
			return nil, err
		}
		out := []any{}
		for range n {
			v, err := rd.jsonValue(depth + 1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case isMap(c):
		n, err := rd.d.DecodeMapLen()
		if err != nil {
			return nil, err
		}
		out := map[string]any{}
		for range n {
			k, err := rd.jsonValue(depth + 1)
			if err != nil {
				return nil, err
			}
			v, err := rd.jsonValue(depth + 1)
			if err != nil {
				return nil, err
			}
			key, ok := k.(string)
			if !ok {
				b, _ := json.Marshal(k)
				key = string(b)
			}
			out[key] = v
		}
		return out, nil
	case msgpcode.IsBin(c):
		b, err := rd.bin()
		return base64.StdEncoding.EncodeToString(b), err
	case c == msgpcode.Float, c == msgpcode.Double:
		f, err := rd.d.DecodeFloat64()
		if err == nil && (math.IsNaN(f) || math.IsInf(f, 0)) {
			return nil, fmt.Errorf("the number %v has no JSON form", f)
		}
		return f, err
	case msgpcode.IsExt(c):
		if err := rd.d.Skip(); err != nil {
			return nil, err
		}
		return nil, errors.New("a MessagePack extension has no JSON form")
	}
	return rd.d.DecodeInterfaceLoose()
}

// bin reads binary data as a slice of b. The library's DecodeBytes makes
// a slice of the length the header declares before reading (4 GB for a
// header of five bytes); here a length past the end of b is refused first.
func (rd *reader) bin() ([]byte, error) {
	n, err := rd.d.DecodeBytesLen()
	if err != nil {
		return nil, err
	}
	if n < 0 || n > rd.r.Len() {
		return nil, io.ErrUnexpectedEOF
	}
	start := rd.offset()
	if _, err := rd.r.Seek(int64(n), io.SeekCurrent); err != nil {
		return nil, err
	}
	return rd.b[start : start+n], nil
}

func isArray(c byte) bool {
	return msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32
}

func isMap(c byte) bool {
	return msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32
}

// writer writes MessagePack values, each in its shortest form, maps with
// their keys sorted.
type writer struct {
	buf bytes.Buffer
	e   *msgpack.Encoder
}

func newWriter() *writer {
	w := &writer{}
	w.e = msgpack.NewEncoder(&w.buf)
	w.e.UseCompactInts(true)
	w.e.SetSortMapKeys(true)
	return w
}

// Writes to a bytes.Buffer do not fail, so the encoder's errors are
// only for values it cannot write; the writer's values are all plain.

func (w *writer) array(n int)  { _ = w.e.EncodeArrayLen(n) }
func (w *writer) mapOf(n int)  { _ = w.e.EncodeMapLen(n) }
func (w *writer) int(v int64)  { _ = w.e.EncodeInt(v) }
func (w *writer) str(s string) { _ = w.e.EncodeString(s) }
func (w *writer) bool(v bool)  { _ = w.e.EncodeBool(v) }
func (w *writer) nil()         { _ = w.e.EncodeNil() }
func (w *writer) raw(b []byte) { w.buf.Write(b) }

// strOrNil writes an empty string as nil, as the hub protocol does for a
// missing invocation id or close error.
func (w *writer) strOrNil(s string) {
	if s == "" {
		w.nil()
		return
	}
	w.str(s)
}

// json writes a JSON value as MessagePack: integers as integers, other
// numbers as float64, objects as maps with their keys sorted.
func (w *writer) json(raw json.RawMessage) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return err
	}
	v, err := numbers(v)
	if err != nil {
		return err
	}
	return w.e.Encode(v)
}

// numbers replaces JSON numbers with int64, uint64 or float64.
func numbers(v any) (any, error) {
	switch v := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			return i, nil
		}
		if u, err := strconv.ParseUint(string(v), 10, 64); err == nil {
			return u, nil
		}
		f, err := v.Float64()
		if err != nil {
			return nil, fmt.Errorf("the number %s does not fit a float64", v)
		}
		return f, nil
	case []any:
		for i, e := range v {
			var err error
			if v[i], err = numbers(e); err != nil {
				return nil, err
			}
		}
	case map[string]any:
		for k, e := range v {
			var err error
			if v[k], err = numbers(e); err != nil {
				return nil, err
			}
		}
	}
	return v, nil
}

// framed returns what was written with its VarInt length prefix.
func (w *writer) framed() []byte { return prefixed(w.buf.Bytes()) }

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
