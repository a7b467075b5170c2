package syslocale

import (
	"os"
	"testing"
)

func TestFix(t *testing.T) {
	tests := []struct {
		env  map[string]string // "" value: unset
		want map[string]string
	}{
		{map[string]string{"LC_ALL": "", "LC_MESSAGES": "", "LANG": ""}, map[string]string{"LANG": Default}},
		{map[string]string{"LANG": "C"}, map[string]string{"LANG": Default}},
		{map[string]string{"LANG": "C.UTF-8"}, map[string]string{"LANG": Default}},
		{map[string]string{"LANG": "POSIX"}, map[string]string{"LANG": Default}},
		{map[string]string{"LC_ALL": "C.UTF-8", "LANG": "en_GB.UTF-8"}, map[string]string{"LC_ALL": Default, "LANG": "en_GB.UTF-8"}},
		{map[string]string{"LC_MESSAGES": "C", "LANG": "de_DE.UTF-8"}, map[string]string{"LC_MESSAGES": Default, "LANG": "de_DE.UTF-8"}},
		{map[string]string{"LANG": "en_US.UTF-8"}, map[string]string{"LANG": "en_US.UTF-8"}},
	}
	for _, tt := range tests {
		for _, v := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
			if tt.env[v] == "" {
				t.Setenv(v, "")
				os.Unsetenv(v)
			} else {
				t.Setenv(v, tt.env[v])
			}
		}
		Fix()
		for _, v := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
			if got := os.Getenv(v); got != tt.want[v] {
				t.Errorf("env %v: %s = %q, want %q", tt.env, v, got, tt.want[v])
			}
		}
	}
}
