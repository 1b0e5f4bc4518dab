package render

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/cppforlife/go-patch/patch"
	"gopkg.in/yaml.v2"
)

// Difference is one place where two rendered manifests differ.
type Difference struct {
	// Path is the place in go-patch syntax, array items that have a name
	// selected by it (/instance_groups/name=redis/instances), others by index.
	Path string
	// From is the value in the first manifest, To in the second (nil: absent).
	From, To interface{}

	steps []step
}

// step is one level of a Difference's path: a map key, or an array item
// with its index and (when it is a map with one) its name.
type step struct {
	key   string
	index int
	name  string
	item  bool
}

// Diff lists the places where manifest b differs from manifest a, in a
// stable order (map keys sorted, arrays in order). Arrays whose items all
// have distinct names are compared by name, as BOSH users address them;
// others by index.
func Diff(a, b []byte) ([]Difference, error) {
	var da, db interface{}
	if err := yaml.Unmarshal(a, &da); err != nil {
		return nil, fmt.Errorf("reading the first manifest: %w", err)
	}
	if err := yaml.Unmarshal(b, &db); err != nil {
		return nil, fmt.Errorf("reading the second manifest: %w", err)
	}
	var out []Difference
	diff(da, db, nil, &out)
	return out, nil
}

func diff(a, b interface{}, at []step, out *[]Difference) {
	if ma, ok := a.(map[interface{}]interface{}); ok {
		if mb, ok := b.(map[interface{}]interface{}); ok {
			keys := map[string]interface{}{}
			for k := range ma {
				keys[fmt.Sprint(k)] = k
			}
			for k := range mb {
				keys[fmt.Sprint(k)] = k
			}
			names := make([]string, 0, len(keys))
			for n := range keys {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				k := keys[n]
				diff(ma[k], mb[k], append(clone(at), step{key: n}), out)
			}
			return
		}
	}
	if la, ok := a.([]interface{}); ok {
		if lb, ok := b.([]interface{}); ok {
			diffList(la, lb, at, out)
			return
		}
	}
	if !reflect.DeepEqual(a, b) {
		*out = append(*out, Difference{Path: pathOf(at), From: a, To: b, steps: at})
	}
}

func diffList(a, b []interface{}, at []step, out *[]Difference) {
	na, okA := namesOf(a)
	nb, okB := namesOf(b)
	if okA && okB {
		for i, item := range a {
			j, found := nb[itemName(item)]
			var other interface{}
			if found {
				other = b[j]
			}
			diff(item, other, append(clone(at), step{item: true, index: i, name: itemName(item)}), out)
		}
		for j, item := range b {
			if _, found := na[itemName(item)]; !found {
				diff(nil, item, append(clone(at), step{item: true, index: j, name: itemName(item)}), out)
			}
		}
		return
	}
	for i := 0; i < max(len(a), len(b)); i++ {
		var x, y interface{}
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		diff(x, y, append(clone(at), step{item: true, index: i}), out)
	}
}

// namesOf maps each item's name to its index when every item is a map with
// a distinct name.
func namesOf(list []interface{}) (map[string]int, bool) {
	names := map[string]int{}
	for i, item := range list {
		n := itemName(item)
		if n == "" {
			return nil, false
		}
		if _, dup := names[n]; dup {
			return nil, false
		}
		names[n] = i
	}
	return names, true
}

func itemName(item interface{}) string {
	m, ok := item.(map[interface{}]interface{})
	if !ok {
		return ""
	}
	if n, ok := m["name"].(string); ok {
		return n
	}
	return ""
}

func clone(s []step) []step { return append([]step(nil), s...) }

func pathOf(steps []step) string {
	if len(steps) == 0 {
		return "/"
	}
	var b strings.Builder
	for _, s := range steps {
		b.WriteByte('/')
		switch {
		case !s.item:
			b.WriteString(s.key)
		case s.name != "":
			b.WriteString("name=" + s.name)
		default:
			b.WriteString(strconv.Itoa(s.index))
		}
	}
	return b.String()
}

// Allows reports whether the difference lies at or below the go-patch path
// allowed (e.g. /instance_groups/name=redis/networks): each of the allowed
// path's tokens matches the difference's step at the same depth. A key token
// matches a map key, an index token an array item's index, and a
// name=value token an item with that name.
func (d Difference) Allows(allowed string) bool {
	ptr, err := patch.NewPointerFromString(allowed)
	if err != nil {
		return false
	}
	tokens := ptr.Tokens()[1:] // the root token first
	if len(tokens) > len(d.steps) {
		return false
	}
	for i, tok := range tokens {
		s := d.steps[i]
		switch t := tok.(type) {
		case patch.KeyToken:
			if s.item || s.key != t.Key {
				return false
			}
		case patch.IndexToken:
			if !s.item || s.index != t.Index {
				return false
			}
		case patch.MatchingIndexToken:
			if !s.item || t.Key != "name" || s.name != t.Value {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// Outside is the first difference that no allowed path covers, or nil.
func Outside(diffs []Difference, allow []string) *Difference {
	for i, d := range diffs {
		covered := false
		for _, a := range allow {
			if d.Allows(a) {
				covered = true
				break
			}
		}
		if !covered {
			return &diffs[i]
		}
	}
	return nil
}

// DiffText writes the differences one per line pair, as a reviewer reads
// them: "- <path>: <value in from>" then "+ <path>: <value in to>".
func DiffText(fromName, toName string, diffs []Difference) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s → %s: %d difference(s)\n", fromName, toName, len(diffs))
	for _, d := range diffs {
		fmt.Fprintf(&b, "- %s: %s\n+ %s: %s\n", d.Path, inline(d.From), d.Path, inline(d.To))
	}
	return []byte(b.String())
}

func inline(v interface{}) string {
	if v == nil {
		return "(absent)"
	}
	out, err := yaml.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	s := strings.TrimSpace(string(out))
	if strings.Contains(s, "\n") {
		s = strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
	}
	return s
}
