package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
)

// decodeStrict decodes one JSON document from r into v, refusing unknown keys
// at any depth and naming the offending key by its path ("source.buckt").
func decodeStrict(r io.Reader, v any) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("reading request: %w", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return errors.New("request is empty: expected a JSON object on stdin")
	}
	if !json.Valid(data) {
		var probe any
		err := json.Unmarshal(data, &probe)
		return fmt.Errorf("request is not valid JSON: %v", err)
	}
	if err := checkKeys(data, reflect.TypeOf(v).Elem(), ""); err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return fmt.Errorf("%s: must be %s, not a JSON %s", typeErr.Field, describe(typeErr.Type), typeErr.Value)
		}
		return fmt.Errorf("request: %v", err)
	}
	return nil
}

// checkKeys walks data alongside type t and fails on the first key that has no
// matching field, in key order so the message is stable.
func checkKeys(data []byte, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if u, ok := reflect.New(t).Interface().(json.Unmarshaler); ok {
		if err := u.UnmarshalJSON(data); err != nil {
			return fmt.Errorf("%s: %v", orTop(path), err)
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(data, &obj); err != nil {
			if bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
				return nil
			}
			return typeError(path, t, data)
		}
		fields := jsonFields(t)
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			field, ok := fields[k]
			if !ok {
				return fmt.Errorf("%s: unknown key %q (known: %s)", orTop(path), k, strings.Join(sortedKeys(fields), ", "))
			}
			if err := checkKeys(obj[k], field.Type, join(path, k)); err != nil {
				return err
			}
		}
	case reflect.Map:
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(data, &obj); err != nil {
			return typeError(path, t, data)
		}
		for k, raw := range obj {
			if err := checkKeys(raw, t.Elem(), join(path, k)); err != nil {
				return err
			}
		}
	default:
		if err := json.Unmarshal(data, reflect.New(t).Interface()); err != nil {
			return typeError(path, t, data)
		}
	}
	return nil
}

// typeError names the key whose value has the wrong JSON type, without
// repeating the value (it may be a secret).
func typeError(path string, t reflect.Type, data []byte) error {
	kind := "value"
	switch trimmed := bytes.TrimSpace(data); {
	case len(trimmed) == 0:
	case trimmed[0] == '"':
		kind = "string"
	case trimmed[0] == '{':
		kind = "object"
	case trimmed[0] == '[':
		kind = "list"
	case trimmed[0] == 't' || trimmed[0] == 'f':
		kind = "boolean"
	case trimmed[0] == 'n':
		kind = "null"
	default:
		kind = "number"
	}
	return fmt.Errorf("%s: must be %s, not a JSON %s", orTop(path), describe(t), kind)
}

func jsonFields(t reflect.Type) map[string]reflect.StructField {
	fields := map[string]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fields[name] = f
	}
	return fields
}

func sortedKeys(m map[string]reflect.StructField) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func orTop(path string) string {
	if path == "" {
		return "request"
	}
	return path
}

func describe(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint, reflect.Uint64:
		return "an integer"
	case reflect.Slice:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return t.String()
}
