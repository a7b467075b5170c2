package ui

import "testing"

func TestJoinPlace(t *testing.T) {
	for _, tc := range []struct {
		parts []string
		zh    bool
		want  string
	}{
		{[]string{"3号楼", "2单元", "302室"}, true, "3号楼2单元302室"},
		{[]string{"b1", "1单元"}, true, "b1 1单元"},
		{[]string{"Building 3", "Unit 2"}, false, "Building 3 Unit 2"},
		{[]string{"东苑A座", "1单元"}, true, "东苑A座1单元"},
	} {
		if got := joinPlace(tc.parts, tc.zh); got != tc.want {
			t.Errorf("joinPlace(%q, zh=%v) = %q, want %q", tc.parts, tc.zh, got, tc.want)
		}
	}
}
