package orgs_test

import (
	"strings"
	"testing"

	"github.com/mailschool/mailschool/internal/orgs"
)

func TestParseSignupPolicy(t *testing.T) {
	for _, tc := range []struct {
		setting, want   string
		admits, refuses string
	}{
		{"", "closed", "", "ada@example.com"},
		{"closed", "closed", "", "ada@example.com"},
		{"open", "open", "ada@example.com", ""},
		{"domains:uni.example.edu, Example.ORG", "domains:uni.example.edu,example.org", "ada@example.org", "ada@uni2.example.edu"},
	} {
		p, err := orgs.ParseSignupPolicy(tc.setting)
		if err != nil || p.String() != tc.want {
			t.Errorf("%q: %v %v, want %s", tc.setting, p, err, tc.want)
			continue
		}
		if tc.admits != "" && !p.Admits(tc.admits) {
			t.Errorf("%q refuses %s", tc.setting, tc.admits)
		}
		if tc.refuses != "" && p.Admits(tc.refuses) {
			t.Errorf("%q admits %s", tc.setting, tc.refuses)
		}
	}
	for setting, want := range map[string]string{
		"yes":                   "must be closed, open, or domains:",
		"domains:":              "needs at least one domain",
		"domains:a@example.org": "is not a domain",
		"domains:not a domain":  "is not a domain",
	} {
		if _, err := orgs.ParseSignupPolicy(setting); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error saying %q", setting, err, want)
		}
	}
}
