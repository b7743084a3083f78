package bindings

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// raw is the JSON array of the arguments s, as a message keeps them.
func raw(s ...string) json.RawMessage {
	return json.RawMessage("[" + strings.Join(s, ",") + "]")
}

// checkDecode runs one row of a decoder's table: the items, or an error
// holding wantErr.
func checkDecode[T any](t *testing.T, decode func([]byte, int) ([]T, error), in string, want []T, wantErr string) {
	t.Helper()
	got, err := decode([]byte(in), 0)
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
		// An empty name matched every endpoint configured without a name.
		{"endpoint name empty", `{"target":"t","endpoints":["east",""]}`, nil, "message 0: endpoints item 1 is empty"},
		{"endpoint name null", `{"target":"t","endpoints":[null]}`, nil, "message 0: endpoints item 0 is empty"},
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
		// Newtonsoft, which the C# extension reads with, matches property
		// names without regard to case.
		{"any case", `{"TARGET":"t","UserID":"u","GROUPNAME":"g","ConnectionId":"c","Arguments":[1],"Endpoints":["e"],"EXCLUDED":null}`,
			[]Message{{Target: "t", UserID: "u", GroupName: "g", ConnectionID: "c", Arguments: raw(`1`), Endpoints: []string{"e"}}}, ""},
		{"user for userId", `{"target":"x","user":"alice"}`, nil, `message 0: unknown field "user": did you mean "userId"?`},
		{"group_name for groupName", `[{"target":"x"},{"target":"x","group_name":"g"}]`, nil, `message 1: unknown field "group_name": did you mean "groupName"?`},
		{"unknown field", `{"target":"x","colour":"red"}`, nil, `unknown field "colour": the fields are connectionId, userId, groupName, target, arguments, endpoints, excluded.`},
		{"not UTF-8", "{\"target\":\"x\",\"userId\":\"a\xff\"}", nil, "the messages hold bytes that are not UTF-8"},
		{"userId over 1024 bytes", `{"target":"x","userId":"` + strings.Repeat("u", 1025) + `"}`, nil, "it is 1025 bytes long, over the limit of 1024 bytes"},
		{"data after the array", `[{"target":"t"}] {}`, nil, `the messages are followed by "{}"`},
		{"array not closed", `[{"target":"t"}`, nil, "the messages are not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkDecode(t, DecodeMessages, tt.in, tt.want, tt.wantErr) })
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
		{"endpoints", `{"action":"add","userId":"u","groupName":"g","endpoints":[{"name":"east"},"west"]}`,
			[]GroupAction{{Action: ActionAdd, UserID: "u", GroupName: "g", Endpoints: []string{"east", "west"}}}, ""},
		{"group for groupName", `{"action":"removeAll","userId":"u","group":"g"}`, nil, `group action 0: unknown field "group": did you mean "groupName"?`},
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
		t.Run(tt.name, func(t *testing.T) { checkDecode(t, DecodeGroupActions, tt.in, tt.want, tt.wantErr) })
	}
}

func TestDecodeItemLimit(t *testing.T) {
	three := `[{"target":"a"},{"target":"b"},{"target":"c"}]`
	if _, err := DecodeMessages([]byte(three), 3); err != nil {
		t.Errorf("3 items, limit 3: %v", err)
	}
	_, err := DecodeMessages([]byte(three), 2)
	var limit *ItemLimitError
	if !errors.As(err, &limit) || limit.Max != 2 || limit.Kind != "message" {
		t.Errorf("3 items, limit 2: %v, want an *ItemLimitError", err)
	}
	_, err = DecodeGroupActions([]byte(`[{"action":"removeAll","userId":"u"},{"action":"removeAll","userId":"v"}]`), 1)
	if !errors.As(err, &limit) || limit.Kind != "group action" {
		t.Errorf("2 group actions, limit 1: %v, want an *ItemLimitError", err)
	}
}

func TestMeantField(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"user", "userId"}, {"users", "userId"}, {"user_id", "userId"}, {"userIds", "userId"},
		{"group", "groupName"}, {"group_name", "groupName"}, {"groups", "groupName"}, {"groupId", "groupName"},
		{"connection", "connectionId"}, {"connection-ids", "connectionId"},
		{"method", "target"}, {"args", "arguments"}, {"params", "arguments"}, {"endpoint", "endpoints"},
		{"exclude", "excluded"}, {"type", ""}, {"colour", ""},
	} {
		if got := meantField(tt.in, messageFields); got != tt.want {
			t.Errorf("meantField(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := meantField("type", groupActionFields); got != "action" {
		t.Errorf(`meantField("type") of a group action = %q, want "action"`, got)
	}
}

// TestDecodeMemoryProportional checks that decoding allocates memory in
// proportion to the body, whatever it holds (about 16 bytes per byte for
// small valid messages, counting garbage): an array of {} used to cost
// about 90 times its size before its first item was refused.
func TestDecodeMemoryProportional(t *testing.T) {
	for name, body := range messageBodies() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, _ = DecodeMessages(body, 0)
		runtime.ReadMemStats(&after)
		perByte := float64(after.TotalAlloc-before.TotalAlloc) / float64(len(body))
		t.Logf("%s (%d bytes): %.1f bytes allocated per body byte", name, len(body), perByte)
		if perByte > 24 {
			t.Errorf("%s: %.1f bytes allocated per body byte, want at most 24", name, perByte)
		}
	}
}

// messageBodies are messages bodies of several sizes and kinds, by name.
func messageBodies() map[string][]byte {
	valid := func(n int) []byte {
		items := make([]string, n)
		for i := range items {
			items[i] = fmt.Sprintf(`{"target":"newMessage","userId":"user%d","arguments":["hello",%d]}`, i, i)
		}
		return []byte("[" + strings.Join(items, ",") + "]")
	}
	broken := valid(16_000)
	return map[string][]byte{
		"900KB_of_empty_objects": []byte("[" + strings.Repeat("{},", 300_000) + "{}]"),
		"1000_messages":          valid(1_000),
		"16000_messages":         valid(16_000),
		"16000_last_broken":      append(broken[:len(broken)-1], []byte(`,{}]`)...),
	}
}

func FuzzDecodeMessages(f *testing.F) {
	for _, s := range []string{`{"target":"t","arguments":[1,"a",null]}`, `[{"target":"t","userId":"u"},{"target":"x","groupName":"g"}]`,
		`{"target":"t","arguments":{}}`, `[1]`, ``, `{"target":"t","connectionId":" "}`,
		`{"target":"t","groupName":"g","excluded":["a","\u0062",null],"endpoints":[{"name":"e","x":[{"name":1}]},"w\ud800",{"ENDPOINT":"https://x"}]}`} {
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
