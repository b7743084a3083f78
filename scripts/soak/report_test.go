package main

import "testing"

func TestPassed(t *testing.T) {
	tests := []struct {
		name string
		r    report
		want bool
	}{
		{"everything received", report{t: tally{Sent: 3, Expected: 6, Received: 6, Uncounted: 2}}, true},
		{"a lost message", report{t: tally{Sent: 3, Expected: 6, Received: 5, Lost: 1}}, false},
		{"a failed send", report{t: tally{Sent: 3, SendErrors: 1}}, false},
		{"a duplicate", report{t: tally{Sent: 3, Expected: 6, Received: 6, Duplicates: 1}}, false},
		{"a stray delivery", report{t: tally{Sent: 3, Unexpected: 1}}, false},
		{"a dropped client", report{drops: 1}, false},
		{"a connect error", report{connectErrors: 1}, false},
		{"a process ended early", report{processErr: "exited"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.r.passed(); got != tt.want {
				t.Errorf("passed() = %v, want %v for %+v", got, tt.want, tt.r)
			}
		})
	}
}
