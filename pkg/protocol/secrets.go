package protocol

import (
	"net/url"
	"regexp"
	"strings"
)

// SecretsIn picks the values that must never be printed out of a source
// block decoded loosely (any JSON shape), so that even a request that fails
// strict decoding cannot print them: the secret key, the session token, and
// a password in the endpoint, as written and as URLs escape it.
func SecretsIn(src map[string]any) []string {
	var out []string
	for _, key := range []string{"secret_access_key", "session_token"} {
		if s, ok := src[key].(string); ok && s != "" {
			out = append(out, s)
		}
	}
	if e, ok := src["endpoint"].(string); ok {
		out = append(out, endpointPassword(e)...)
	}
	return out
}

// Secrets lists the values of a decoded source that must never be printed.
func (s Source) Secrets() []string {
	return SecretsIn(map[string]any{"secret_access_key": s.SecretAccessKey, "session_token": s.SessionToken, "endpoint": s.Endpoint})
}

// userinfo is the user:password@ part of a URL, found even in one that does
// not parse.
var userinfo = regexp.MustCompile(`(://)([^/@]*)@`)

// endpointPassword is the password in an endpoint URL (and its escaped
// forms); none when there is none.
func endpointPassword(endpoint string) []string {
	var p string
	if u, err := url.Parse(endpoint); err == nil && u.User != nil {
		p, _ = u.User.Password()
	} else if m := userinfo.FindStringSubmatch(endpoint); m != nil {
		if _, pass, ok := strings.Cut(m[2], ":"); ok {
			p = pass
		}
	}
	if p == "" {
		return nil
	}
	return []string{p, url.QueryEscape(p), url.PathEscape(p)}
}

// redactedEndpoint is the endpoint with any user and password masked, for
// messages.
func redactedEndpoint(endpoint string) string {
	return userinfo.ReplaceAllString(endpoint, "${1}[redacted]@")
}
