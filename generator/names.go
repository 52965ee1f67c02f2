package generator

import "strings"

// isInitialism reports whether an upper-cased word is an initialism: a
// word Go spells in capitals (UserID, HTMLExport, APIURL). The list is
// golint's and gqlgen's together, so generated names and the names gqlgen
// gives the same fields agree.
func isInitialism(w string) bool {
	switch w {
	case "ACL", "API", "ASCII", "AWS", "CPU", "CSS", "CSV", "DNS", "EOF", "GCP", "GUID", "HTML", "HTTP",
		"HTTPS", "ICMP", "ID", "IP", "JSON", "KVK", "LHS", "PDF", "PGP", "QPS", "QR", "RAM", "RHS", "RPC",
		"SLA", "SMTP", "SQL", "SSH", "SVG", "TCP", "TLS", "TTL", "UDP", "UI", "UID", "UUID", "URI", "URL",
		"UTF8", "VM", "XML", "XMPP", "XSRF", "XSS":
		return true
	}
	return false
}

// pluralInitialism is the Go spelling of an initialism's plural (ids →
// IDs, urls → URLs), as Go style and gqlgen write it, or "" when w is not
// one.
func pluralInitialism(w string) string {
	u := strings.ToUpper(w)
	if len(w) > 2 && (w[len(w)-1] == 's' || w[len(w)-1] == 'S') && !isInitialism(u) && isInitialism(u[:len(u)-1]) {
		return u[:len(u)-1] + "s"
	}
	return ""
}

// isSeparator reports whether r separates words in a key or value:
// new_report, guided-v2, v1.2.
func isSeparator(r byte) bool { return r == '_' || r == '-' || r == '.' }

func isASCIILetter(r byte) bool { return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' }
func isASCIIDigit(r byte) bool  { return '0' <= r && r <= '9' }
func isUpper(r byte) bool       { return 'A' <= r && r <= 'Z' }

// words splits a key into words at separators and camelCase boundaries
// (newReport → new Report, HTMLExport → HTML Export, userID → user ID). ok is false when s holds a character that is not an ASCII
// letter, digit or separator, or no word at all: such a name has no Go
// spelling we could promise to keep stable.
func words(s string) (ws []string, ok bool) {
	start := -1
	flush := func(end int) {
		if start >= 0 {
			ws = append(ws, s[start:end])
			start = -1
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isSeparator(c):
			flush(i)
			continue
		case !isASCIILetter(c) && !isASCIIDigit(c):
			return nil, false
		}
		if start >= 0 && isUpper(c) {
			prev := s[i-1]
			nextLower := i+1 < len(s) && 'a' <= s[i+1] && s[i+1] <= 'z'
			// aB starts a word; so does the B of ABc (HTMLExport → HTML Export).
			if !isUpper(prev) || nextLower {
				flush(i)
			}
		}
		if start < 0 {
			start = i
		}
	}
	flush(len(s))
	return ws, len(ws) > 0
}

// pascal joins words as an exported Go name, as golint would spell it:
// initialisms in capitals, and a word written in capitals (SSO) kept so.
func pascal(ws []string) string {
	var b strings.Builder
	for _, w := range ws {
		if u := strings.ToUpper(w); isInitialism(u) || len(w) > 1 && u == w {
			b.WriteString(u)
			continue
		}
		if pl := pluralInitialism(w); pl != "" {
			b.WriteString(pl)
			continue
		}
		b.WriteString(title(w))
	}
	return b.String()
}

func title(w string) string { return strings.ToUpper(w[:1]) + strings.ToLower(w[1:]) }

// lowerCamel joins words as a GraphQL field name: htmlExport, userId.
func lowerCamel(ws []string) string {
	var b strings.Builder
	for i, w := range ws {
		if i == 0 {
			b.WriteString(strings.ToLower(w))
			continue
		}
		b.WriteString(title(w))
	}
	return b.String()
}

// screamingSnake joins words as a GraphQL enum value: GUIDED_V2. A value
// that would start with a digit gets a leading underscore, as GraphQL names
// must not.
func screamingSnake(ws []string) string {
	s := strings.ToUpper(strings.Join(ws, "_"))
	if isASCIIDigit(s[0]) {
		s = "_" + s
	}
	return s
}

// keyGoName is the exported Go name of a flag or attribute key. A key must
// start with a letter so that the name does too.
func keyGoName(key string) (name string, ws []string, ok bool) {
	if key == "" || !isASCIILetter(key[0]) {
		return "", nil, false
	}
	ws, ok = words(key)
	if !ok {
		return "", nil, false
	}
	return pascal(ws), ws, true
}
