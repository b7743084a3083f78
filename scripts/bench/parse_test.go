package main

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var ds []time.Duration
		for _, x := range v {
			ds = append(ds, time.Duration(x)*time.Millisecond)
		}
		return ds
	}
	tests := []struct {
		in   []time.Duration
		p    int
		want time.Duration
	}{
		{nil, 50, 0},
		{ms(7), 99, 7 * time.Millisecond},
		{ms(4, 1, 3, 2), 50, 2 * time.Millisecond},
		{ms(10, 9, 8, 7, 6, 5, 4, 3, 2, 1), 99, 10 * time.Millisecond},
		{ms(10, 9, 8, 7, 6, 5, 4, 3, 2, 1), 50, 5 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := percentile(tt.in, tt.p); got != tt.want {
			t.Errorf("percentile(%v, %d) = %v, want %v", tt.in, tt.p, got, tt.want)
		}
	}
}

func TestBenchLine(t *testing.T) {
	tests := []struct {
		line string
		want []string
	}{
		{"BenchmarkSignJWTAlone-2   \t   98160\t     13819 ns/op\t    3584 B/op\t      48 allocs/op",
			[]string{"BenchmarkSignJWTAlone", "13819", "3584", "48"}},
		{"BenchmarkX \t 10\t 1.5 ns/op\t 0 B/op\t 0 allocs/op", []string{"BenchmarkX", "1.5", "0", "0"}},
		{"PASS", nil},
	}
	for _, tt := range tests {
		var got []string
		if m := benchLine.FindStringSubmatch(tt.line); m != nil {
			got = m[1:]
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("benchLine on %q (-want +got):\n%s", tt.line, diff)
		}
	}
}
