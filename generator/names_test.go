package generator

import (
	"slices"
	"testing"
)

func TestNames(t *testing.T) {
	tests := []struct {
		key, goName, gqlField, gqlValue string
	}{
		{"new_report", "NewReport", "newReport", "NEW_REPORT"},
		{"newReport", "NewReport", "newReport", "NEW_REPORT"},
		{"user_id", "UserID", "userId", "USER_ID"},
		{"userID", "UserID", "userId", "USER_ID"},
		{"html_export", "HTMLExport", "htmlExport", "HTML_EXPORT"},
		{"HTMLExport", "HTMLExport", "htmlExport", "HTML_EXPORT"},
		{"api_url", "APIURL", "apiUrl", "API_URL"},
		{"newSSOLogin", "NewSSOLogin", "newSsoLogin", "NEW_SSO_LOGIN"},
		{"json_v2", "JSONV2", "jsonV2", "JSON_V2"},
		{"utf8_names", "UTF8Names", "utf8Names", "UTF8_NAMES"},
		{"guided_v2", "GuidedV2", "guidedV2", "GUIDED_V2"},
		{"guided-v2", "GuidedV2", "guidedV2", "GUIDED_V2"},
		{"enterprise.v2", "EnterpriseV2", "enterpriseV2", "ENTERPRISE_V2"},
		{"a__b", "AB", "aB", "A_B"},
		{"x", "X", "x", "X"},
		// gqlgen's initialisms and plural initialisms, as gqlgen names fields.
		{"store_ids", "StoreIDs", "storeIds", "STORE_IDS"},
		{"storeIds", "StoreIDs", "storeIds", "STORE_IDS"},
		{"urls", "URLs", "urls", "URLS"},
		{"csv_export", "CSVExport", "csvExport", "CSV_EXPORT"},
		{"aws_regions", "AWSRegions", "awsRegions", "AWS_REGIONS"},
		{"tls", "TLS", "tls", "TLS"},
		{"ss", "Ss", "ss", "SS"},
		{"10", "10", "10", "_10"},
	}
	for _, tt := range tests {
		ws, ok := words(tt.key)
		if !ok {
			t.Errorf("words(%q) failed", tt.key)
			continue
		}
		if got := pascal(ws); got != tt.goName {
			t.Errorf("pascal(%q) = %q, want %q", tt.key, got, tt.goName)
		}
		if got := lowerCamel(ws); got != tt.gqlField {
			t.Errorf("lowerCamel(%q) = %q, want %q", tt.key, got, tt.gqlField)
		}
		if got := screamingSnake(ws); got != tt.gqlValue {
			t.Errorf("screamingSnake(%q) = %q, want %q", tt.key, got, tt.gqlValue)
		}
	}
}

func TestKeyGoNameRejects(t *testing.T) {
	for _, key := range []string{"", "_private", "9lives", "a b", "ünicode", "___"} {
		if name, _, ok := keyGoName(key); ok {
			t.Errorf("keyGoName(%q) = %q, want no Go name", key, name)
		}
	}
	if _, ws, ok := keyGoName("newReport"); !ok || !slices.Equal(ws, []string{"new", "Report"}) {
		t.Errorf("keyGoName(newReport) words = %q", ws)
	}
}
