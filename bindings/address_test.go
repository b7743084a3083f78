package bindings

import "testing"

// TestDecodeRefusesWidenedAddress checks the bodies whose address, read as
// encoding/json (or Newtonsoft) reads it, would reach more clients than the
// caller named: a field given twice, the last winning, and an empty
// address, which reads as not set.
func TestDecodeRefusesWidenedAddress(t *testing.T) {
	messages := []struct{ name, in, wantErr string }{
		{"userId twice in two cases", `{"userId":"alice","USERID":"","target":"t"}`, `message 0: userId is given twice ("userId" and "USERID")`},
		{"userId twice", `{"userId":"alice","userId":"bob","target":"t"}`, `message 0: userId is given twice ("userId" and "userId")`},
		{"groupName twice", `[{"target":"t"},{"groupName":"admins","GroupName":"","target":"t"}]`, `message 1: groupName is given twice ("groupName" and "GroupName")`},
		{"target twice", `{"target":"a","Target":"b"}`, `message 0: target is given twice`},
		{"arguments twice", `{"target":"a","arguments":[1],"ARGUMENTS":[2]}`, `message 0: arguments is given twice`},
		{"escaped name twice", `{"target":"a","userId":"alice","user\u0049d":"bob"}`, `message 0: userId is given twice ("userId" and "userId")`},
		{"empty userId", `{"userId":"","target":"t"}`, `message 0: userId is empty: give a name, or leave userId out (or set it to null)`},
		{"empty groupName", `{"groupName":"","target":"t"}`, `message 0: groupName is empty`},
		{"empty connectionId", `{"target":"t","connectionId" : ""}`, `message 0: connectionId is empty`},
	}
	for _, tt := range messages {
		t.Run("message "+tt.name, func(t *testing.T) {
			checkDecode(t, DecodeMessages, tt.in, nil, tt.wantErr)
			var ie *InputError
			if _, err := DecodeMessages([]byte(tt.in), 0); !asInputError(err, &ie) {
				t.Errorf("error %v is not an InputError", err)
			}
		})
	}
	actions := []struct{ name, in, wantErr string }{
		{"userId twice", `{"action":"add","userId":"alice","UserId":"bob","groupName":"g"}`, `group action 0: userId is given twice`},
		{"groupName twice", `{"action":"add","userId":"alice","groupName":"admins","GroupName":"x"}`, `group action 0: groupName is given twice`},
		{"action twice", `{"action":"add","Action":"removeAll","userId":"alice","groupName":"g"}`, `group action 0: action is given twice`},
		{"empty userId beside a connection", `{"action":"add","userId":"","connectionId":"c","groupName":"g"}`, `group action 0: userId is empty`},
		{"empty groupName", `[{"action":"removeAll","userId":"u","groupName":""}]`, `group action 0: groupName is empty`},
	}
	for _, tt := range actions {
		t.Run("group action "+tt.name, func(t *testing.T) {
			checkDecode(t, DecodeGroupActions, tt.in, nil, tt.wantErr)
		})
	}
}

// TestDecodeNullAddressIsNotSet checks that null still means not set, as
// C# serializers write unset fields, and that names inside values are not
// taken for fields.
func TestDecodeNullAddressIsNotSet(t *testing.T) {
	checkDecode(t, DecodeMessages,
		`{"connectionId":null,"userId":null,"groupName":"g","target":"t","arguments":[{"userId":"","userId":""},"userId"],"excluded":null,"endpoints":null}`,
		[]Message{{GroupName: "g", Target: "t", Arguments: raw(`{"userId":"","userId":""}`, `"userId"`)}}, "")
	checkDecode(t, DecodeGroupActions, `{"action":"removeAll","userId":"u","connectionId":null,"groupName":null}`,
		[]GroupAction{{Action: ActionRemoveAll, UserID: "u"}}, "")
}

func asInputError(err error, target **InputError) bool {
	ie, ok := err.(*InputError)
	*target = ie
	return ok
}
