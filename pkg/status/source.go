package status

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/templates-candidate/templates-candidate-resource/pkg/protocol"
	"github.com/templates-candidate/templates-candidate-resource/pkg/resource"
)

// VarEnvPrefix is the prefix of the environment variables that fill
// ((vars)) not given with --var: ((name)) reads TC_VAR_name, with each
// character other than a letter, digit or '_' written as '_' (((s3.key))
// reads TC_VAR_s3_key).
const VarEnvPrefix = "TC_VAR_"

// VarEnvName is the environment variable that fills ((name)).
func VarEnvName(name string) string {
	return VarEnvPrefix + strings.Map(func(r rune) rune {
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, name)
}

// Vars fills ((vars)): values given on the command line first, then the
// environment.
type Vars struct {
	Given  map[string]string
	Getenv func(string) string
}

func (v Vars) lookup(name string) (string, bool) {
	if val, ok := v.Given[name]; ok {
		return val, true
	}
	if v.Getenv != nil {
		if val := v.Getenv(VarEnvName(name)); val != "" {
			return val, true
		}
	}
	return "", false
}

// varPattern is a Concourse ((var)): a name, or a dotted path such as
// ((s3.secret)), which is looked up as one name.
var varPattern = regexp.MustCompile(`\(\(\s*([A-Za-z0-9_][A-Za-z0-9_.\-]*)\s*\)\)`)

// LoadSource reads a resource's source block from a YAML or JSON file (the
// keys of a pipeline's source:, or a document whose only key is source:),
// fills its ((vars)), and decodes it strictly and validates it as check, in
// and out do. Errors are one line and never hold a secret.
func LoadSource(path string, vars Vars) (protocol.Source, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return protocol.Source{}, fmt.Errorf("reading the source file: %w", err)
	}
	return ParseSource(path, data, vars)
}

// ParseSource is LoadSource on the file's bytes; name names it in errors.
func ParseSource(name string, data []byte, vars Vars) (protocol.Source, error) {
	var doc any
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return protocol.Source{}, fmt.Errorf("%s: not a YAML or JSON document: %s", name, resource.OneLine(err.Error()))
	}
	var extra any
	if err := dec.Decode(&extra); err == nil {
		return protocol.Source{}, fmt.Errorf("%s: holds more than one YAML document; give one source block", name)
	}
	top, ok := doc.(map[string]any)
	if !ok {
		return protocol.Source{}, fmt.Errorf("%s: must be a mapping of source keys (bucket, endpoint, ...)", name)
	}
	if inner, ok := top["source"]; ok && len(top) == 1 {
		if top, ok = inner.(map[string]any); !ok {
			return protocol.Source{}, fmt.Errorf("%s: source: must be a mapping of source keys", name)
		}
	}
	secrets := secretsOf(top)
	filled, err := interpolate(top, reflect.TypeOf(protocol.Source{}), "source", vars)
	if err != nil {
		return protocol.Source{}, fmt.Errorf("%s: %s", name, resource.Redact(err.Error(), secrets))
	}
	secrets = append(secrets, secretsOf(filled.(map[string]any))...)
	body, err := json.Marshal(map[string]any{"source": filled})
	if err != nil {
		return protocol.Source{}, fmt.Errorf("%s: %s", name, resource.Redact(err.Error(), secrets))
	}
	req, err := protocol.DecodeCheck(bytes.NewReader(body))
	if err != nil {
		return protocol.Source{}, fmt.Errorf("%s: %s", name, resource.Redact(err.Error(), secrets))
	}
	return req.Source, nil
}

// interpolate fills the ((vars)) of a decoded YAML value. A string that is
// one ((var)) alone takes the type the source key expects (t): true/false
// for a boolean key, a number for an integer key, otherwise the text. A var
// inside a longer string is spliced in as text.
func interpolate(v any, t reflect.Type, path string, vars Vars) (any, error) {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch val := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(val))
		for k, elem := range val {
			var et reflect.Type
			switch {
			case t == nil:
			case t.Kind() == reflect.Struct:
				if f, ok := fieldByJSONName(t, k); ok {
					et = f.Type
				}
			case t.Kind() == reflect.Map:
				et = t.Elem()
			}
			filled, err := interpolate(elem, et, path+"."+k, vars)
			if err != nil {
				return nil, err
			}
			out[k] = filled
		}
		return out, nil
	case []any:
		var et reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			et = t.Elem()
		}
		out := make([]any, len(val))
		for i, elem := range val {
			filled, err := interpolate(elem, et, fmt.Sprintf("%s[%d]", path, i), vars)
			if err != nil {
				return nil, err
			}
			out[i] = filled
		}
		return out, nil
	case string:
		return fillString(val, t, path, vars)
	}
	return v, nil
}

func fillString(s string, t reflect.Type, path string, vars Vars) (any, error) {
	if m := varPattern.FindStringSubmatchIndex(s); m != nil && m[0] == 0 && m[1] == len(s) {
		name := s[m[2]:m[3]]
		val, ok := vars.lookup(name)
		if !ok {
			return nil, unset(name, path)
		}
		if t == nil {
			return val, nil
		}
		switch t.Kind() {
		case reflect.Bool:
			b, err := strconv.ParseBool(val)
			if err != nil {
				return nil, fmt.Errorf("%s: ((%s)) must be true or false", path, name)
			}
			return b, nil
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%s: ((%s)) must be an integer", path, name)
			}
			return n, nil
		}
		return val, nil
	}
	var missing error
	out := varPattern.ReplaceAllStringFunc(s, func(match string) string {
		name := varPattern.FindStringSubmatch(match)[1]
		val, ok := vars.lookup(name)
		if !ok && missing == nil {
			missing = unset(name, path)
		}
		return val
	})
	if missing != nil {
		return nil, missing
	}
	return out, nil
}

func unset(name, path string) error {
	return fmt.Errorf("%s: ((%s)) is not set: give --var %s=VALUE or set %s", path, name, name, VarEnvName(name))
}

func fieldByJSONName(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" {
			name = f.Name
		}
		if name == key && f.IsExported() {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// secretsOf picks the secret values out of a source block, decoded loosely
// (protocol.SecretsIn): a ((var)) in their place is no secret, its value is.
func secretsOf(src map[string]any) []string {
	var out []string
	for _, s := range protocol.SecretsIn(src) {
		if !varPattern.MatchString(s) {
			out = append(out, s)
		}
	}
	return out
}
