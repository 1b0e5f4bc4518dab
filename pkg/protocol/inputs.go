package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// MaxNoteBytes bounds the free text a put stores in a record (params.note,
// params.reason, params.override) as it is stored: JSON-escaped, so text of
// characters that escape long ("<" is stored as \u003c, six bytes) is
// measured by what it costs in the record, not by what was typed.
const MaxNoteBytes = 4096

// checkStoredText refuses text whose stored (JSON-escaped) form is over
// MaxNoteBytes: every record is read whole by every get of its candidate,
// and records are immutable, so an oversized one must never be written.
func checkStoredText(key, text string) error {
	if len(text) > MaxNoteBytes {
		// Escaping never shortens: no need to measure further.
		return fmt.Errorf("%s: %d bytes, over the %d-byte limit: keep it short and link to the details", key, len(text), MaxNoteBytes)
	}
	escaped, err := json.Marshal(text)
	if err != nil {
		return fmt.Errorf("%s: %v", key, err)
	}
	stored := len(escaped) - 2 // the quotes
	if stored <= MaxNoteBytes {
		return nil
	}
	return fmt.Errorf("%s: %d bytes once escaped as JSON (%d given), over the %d-byte limit: keep it short and link to the details", key, stored, len(text), MaxNoteBytes)
}

// checkPrefix refuses a prefix that is not in canonical form: S3 keys are
// plain strings, but S3-compatible stores (and some proxies) normalise paths,
// so "a//b", "x/../y" or "./z" may land in another resource's namespace.
// A trailing "/" is fine ("redis" and "redis/" are the same prefix).
func checkPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	bad := func(why string) error {
		return fmt.Errorf("source.prefix: %q is not a canonical key prefix: %s", prefix, why)
	}
	if strings.HasPrefix(prefix, "/") {
		return bad(`it must not start with "/"`)
	}
	for _, segment := range strings.Split(strings.TrimSuffix(prefix, "/"), "/") {
		switch segment {
		case "":
			return bad(`it has an empty segment ("//")`)
		case ".", "..":
			return bad(fmt.Sprintf("it has a %q segment", segment))
		}
	}
	for _, r := range prefix {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return bad("it holds a control character or a backslash")
		}
	}
	return nil
}

// checkGivenEmpty refuses params whose key is present but empty ("" or
// null) where leaving the key out means something else: an empty
// params.version would otherwise silently mean "the next patch".
func checkGivenEmpty(request []byte) error {
	var loose struct {
		Params map[string]json.RawMessage `json:"params"`
	}
	if err := json.Unmarshal(request, &loose); err != nil {
		return nil // strict decoding has reported it already
	}
	for _, k := range []struct{ key, hint string }{
		{"version", "give a version such as 1.4.2, or leave version out to publish the next patch"},
		{"version_file", "name a file holding the version, or leave version_file out to publish the next patch"},
	} {
		raw, ok := loose.Params[k.key]
		if !ok {
			continue
		}
		switch v := bytes.TrimSpace(raw); string(v) {
		case `""`, "null":
			return fmt.Errorf("params.%s: given but empty (%s): %s", k.key, v, k.hint)
		}
	}
	return nil
}
