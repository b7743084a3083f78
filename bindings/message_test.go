package bindings

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func raw(s ...string) []json.RawMessage {
	out := make([]json.RawMessage, len(s))
	for i, v := range s {
		out[i] = json.RawMessage(v)
	}
	return out
}

// checkDecode runs one row of a decoder's table: the items, or an error
// holding wantErr.
func checkDecode[T any](t *testing.T, decode func([]byte) ([]T, error), in string, want []T, wantErr string) {
	t.Helper()
	got, err := decode([]byte(in))
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("error %v, want %q", err, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestDecodeMessages(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []Message
		wantErr string
	}{
		{"one", `{"target":"t","arguments":["a",{"b":1}]}`, []Message{{Target: "t", Arguments: raw(`"a"`, `{"b":1}`)}}, ""},
		{"array", `[{"Target":"t","userId":"u","groupName":"g","connectionId":"c","endpoints":["east"]},{"target":"x","arguments":null}]`,
			[]Message{{Target: "t", UserID: "u", GroupName: "g", ConnectionID: "c", Endpoints: []string{"east"}}, {Target: "x"}}, ""},
		// The C# extension's endpoints are ServiceEndpoint objects (JSON of
		// LiteServiceEndpoint), as its SignalREndpoints input binding gives them.
		{"endpoint objects", `{"target":"t","endpoints":[{"endpointType":0,"name":"east","endpoint":"https://e.service.signalr.net","online":true},{"endpoint":"https://w.service.signalr.net"},"backup"]}`,
			[]Message{{Target: "t", Endpoints: []string{"east", "https://w.service.signalr.net", "backup"}}}, ""},
		{"endpoint object empty", `{"target":"t","endpoints":[{"online":true}]}`, nil, "message 0: endpoints item 0 has neither name nor endpoint"},
		{"endpoint number", `{"target":"t","endpoints":[1]}`, nil, "message 0: endpoints item 0 is \"1\""},
		{"no target", `[{"target":"t"},{"arguments":[]}]`, nil, "message 1: target is missing"},
		{"excluded from a group", `{"target":"t","groupName":"g","excluded":["c1","c2"]}`,
			[]Message{{Target: "t", GroupName: "g", Excluded: []string{"c1", "c2"}}}, ""},
		{"excluded with a user", `{"target":"t","userId":"u","excluded":["c1"]}`, nil, "message 0: excluded applies to a group or to everyone"},
		{"excluded blank", `{"target":"t","excluded":[""]}`, nil, `message 0: invalid excluded ""`},
		{"arguments object", `{"target":"t","arguments":{"a":1}}`, nil, `message 0: arguments is "{\"a\":1}", not an array`},
		{"userId number", `{"target":"t","userId":5}`, nil, "message 0: field userId is a JSON number, want a string"},
		{"blank group", `{"target":"t","groupName":" "}`, nil, `message 0: invalid groupName " "`},
		{"empty", ` `, nil, "the body is empty"},
		{"string", `"hi"`, nil, "is not a message"},
		{"array of string", `[{"target":"t"},1]`, nil, `message 1 is "1", not an object`},
		{"bad json", `{"target":`, nil, "message 0 is not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkDecode(t, func(b []byte) ([]Message, error) { return DecodeMessages(b, 0) }, tt.in, tt.want, tt.wantErr) })
	}
}

func TestDecodeGroupActions(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []GroupAction
		wantErr string
	}{
		{"add user", `{"action":"add","userId":"u","groupName":"g"}`, []GroupAction{{Action: ActionAdd, UserID: "u", GroupName: "g"}}, ""},
		{"case and numbers", `[{"action":"REMOVE","connectionId":"c","groupName":"g"},{"action":"removeall","userId":"u"},{"action":0,"userId":"u","groupName":"g"},{"action":2,"connectionId":"c"}]`,
			[]GroupAction{{Action: ActionRemove, ConnectionID: "c", GroupName: "g"}, {Action: ActionRemoveAll, UserID: "u"}, {Action: ActionAdd, UserID: "u", GroupName: "g"}, {Action: ActionRemoveAll, ConnectionID: "c"}}, ""},
		{"no action", `{"userId":"u","groupName":"g"}`, nil, "group action 0: action is missing"},
		{"bad action", `{"action":"join","userId":"u"}`, nil, `group action 0: invalid action "join"`},
		{"bad number", `{"action":3,"userId":"u"}`, nil, "invalid action 3"},
		{"nobody", `[{"action":"add","userId":"u","groupName":"g"},{"action":"add","groupName":"g"}]`, nil, "group action 1: action add has neither userId nor connectionId"},
		{"removeAll nobody", `{"action":"removeAll"}`, nil, "action removeAll has neither userId nor connectionId"},
		{"no group", `{"action":"remove","userId":"u"}`, nil, "group action 0: action remove has no groupName"},
		{"group number", `{"action":"add","userId":"u","groupName":1}`, nil, "field groupName is a JSON number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkDecode(t, func(b []byte) ([]GroupAction, error) { return DecodeGroupActions(b, 0) }, tt.in, tt.want, tt.wantErr) })
	}
}

func FuzzDecodeMessages(f *testing.F) {
	for _, s := range []string{`{"target":"t","arguments":[1,"a",null]}`, `[{"target":"t","userId":"u"},{"target":"x","groupName":"g"}]`,
		`{"target":"t","arguments":{}}`, `[1]`, ``, `{"target":"t","connectionId":" "}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ms, err := DecodeMessages(data, 0)
		if err != nil {
			return
		}
		// What decodes is valid and survives a round trip.
		for i := range ms {
			if err := ms[i].validate(); err != nil {
				t.Fatalf("decoded message %d is invalid: %v", i, err)
			}
		}
		again, err := json.Marshal(ms)
		if err != nil {
			t.Fatal(err)
		}
		ms2, err := DecodeMessages(again, 0)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", again, err)
		}
		if len(ms2) != len(ms) {
			t.Fatalf("round trip changed the count: %d != %d", len(ms2), len(ms))
		}
	})
}

func FuzzDecodeGroupActions(f *testing.F) {
	for _, s := range []string{`{"action":"add","userId":"u","groupName":"g"}`, `[{"action":2,"connectionId":"c"}]`,
		`{"action":"removeAll"}`, `{"action":1.5}`, `[]`, `{"action":"ADD","userId":"u","groupName":""}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		as, err := DecodeGroupActions(data, 0)
		if err != nil {
			return
		}
		again, err := json.Marshal(as)
		if err != nil {
			t.Fatal(err)
		}
		as2, err := DecodeGroupActions(again, 0)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", again, err)
		}
		if d := cmp.Diff(as, as2); d != "" {
			t.Fatalf("round trip (-first +second):\n%s", d)
		}
	})
}
