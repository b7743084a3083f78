package upstream

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// TestEventArgument checks that Argument finds each argument in the JSON
// array the event keeps, and says how many there are when asked for one
// past them.
func TestEventArgument(t *testing.T) {
	e := &Event{Event: "Echo", Arguments: json.RawMessage(` [ "hi" , {"n":[1,2]}, null ] `)}
	var s string
	var obj struct{ N []int }
	if err := e.Argument(0, &s); err != nil || s != "hi" {
		t.Errorf("argument 0 = %q, %v", s, err)
	}
	if err := e.Argument(1, &obj); err != nil || len(obj.N) != 2 {
		t.Errorf("argument 1 = %+v, %v", obj, err)
	}
	for _, i := range []int{3, -1} {
		if err := e.Argument(i, &s); err == nil || !strings.Contains(err.Error(), "Echo has 3 arguments") && i == 3 {
			t.Errorf("argument %d: %v", i, err)
		}
	}
	if err := (&Event{Event: "Ping"}).Argument(0, &s); err == nil || !strings.Contains(err.Error(), "Ping has 0 arguments") {
		t.Errorf("no arguments: %v", err)
	}
	if err := e.Argument(0, new(int)); err == nil || !strings.Contains(err.Error(), "argument 0 of Echo") {
		t.Errorf("wrong type: %v", err)
	}
}

// TestEventArgumentsInTurn: reading every argument in turn, then one again,
// gives each one, and a new Arguments slice is read afresh.
func TestEventArgumentsInTurn(t *testing.T) {
	var b strings.Builder
	b.WriteString("[")
	for i := range 500 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(strconv.Itoa(i))
	}
	b.WriteString("]")
	e := &Event{Event: "Sum", Arguments: json.RawMessage(b.String())}
	for _, i := range []int{0, 1, 2, 250, 499, 3} {
		var got int
		if err := e.Argument(i, &got); err != nil || got != i {
			t.Fatalf("argument %d = %d, %v", i, got, err)
		}
	}
	e.Arguments = json.RawMessage(`[7]`)
	if err := e.Argument(0, new(int)); err != nil {
		t.Errorf("new arguments: %v", err)
	}
	if err := e.Argument(1, new(int)); err == nil || !strings.Contains(err.Error(), "Sum has 1 arguments") {
		t.Errorf("past the new arguments: %v", err)
	}
}
