// Package constraint matches candidate versions against
// source.semver_constraint, in the constraint syntax of Masterminds/semver v3
// (the one registry-image-resource takes), with the same answers:
//
//	1.2.3  =1.2.3  !=1.2.3  >1.2  <2  >=1.2.3  =>1.2.3  <=2.x  =<2
//	~1.2.3 ~>1.2   ^1.2.3   1.2.x  1.x  *       1.2 - 1.4.5
//	">= 1.2, < 2"  (and: a comma or spaces)   "~1.4 || ^2" (or)
//
// A version with a pre-release matches only a group (between ||) that names
// a pre-release itself.
//
// It is our own small parser rather than the library, whose regular
// expressions cost every process start half a millisecond. A property spec
// holds the two to the same answers, but for one thing the library misreads:
// a hyphen range next to a bare || or after a term and spaces alone is a
// range here.
package constraint

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Limits, as Masterminds/semver v3 has them.
const (
	maxLen    = 512
	maxGroups = 32
)

// Set is a parsed constraint: groups joined by ||, each a list of terms that
// must all hold.
type Set struct {
	groups [][]term
	// withPre says, per group, whether a term names a pre-release: only
	// then do pre-release versions match it.
	withPre []bool
}

type op int

const (
	opEqual op = iota // "" and "=": with a wildcard, as ~
	opNotEqual
	opGreater
	opLess
	opGreaterEqual
	opLessEqual
	opTilde
	opCaret
)

// operators, longest first so that ">=" is not read as ">".
var operators = []struct {
	text string
	op   op
}{
	{">=", opGreaterEqual}, {"=>", opGreaterEqual}, {"<=", opLessEqual}, {"=<", opLessEqual},
	{"!=", opNotEqual}, {"~>", opTilde}, {">", opGreater}, {"<", opLess},
	{"=", opEqual}, {"~", opTilde}, {"^", opCaret},
}

// term is one comparison. A wildcard or a missing part (1.x, 1.2, *) makes
// the version dirty: v is then the lowest version it stands for, and
// minorDirty / patchDirty say which part was left open.
type term struct {
	op                            op
	v                             version
	dirty, minorDirty, patchDirty bool
}

// Parse reads a constraint.
func Parse(s string) (*Set, error) {
	if len(s) > maxLen {
		return nil, fmt.Errorf("longer than %d bytes", maxLen)
	}
	ors := strings.Split(s, "||")
	if len(ors) > maxGroups {
		return nil, fmt.Errorf("more than %d groups joined by ||", maxGroups)
	}
	set := &Set{groups: make([][]term, len(ors)), withPre: make([]bool, len(ors))}
	for i, group := range ors {
		terms, err := parseGroup(group)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", strings.TrimSpace(group), err)
		}
		for _, t := range terms {
			if t.v.pre != "" {
				set.withPre[i] = true
			}
		}
		set.groups[i] = terms
	}
	return set, nil
}

// Allows reports whether version (strict semver, as candidates are) is in
// the set; a version that does not parse is not.
func (s *Set) Allows(version string) bool {
	v, ok := parseStrict(version)
	if !ok {
		return false
	}
	for i, group := range s.groups {
		if v.pre != "" && !s.withPre[i] {
			continue
		}
		all := true
		for _, t := range group {
			if !t.allows(v) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

// scanner walks one group.
type scanner struct {
	s   string
	pos int
}

func (sc *scanner) spaces() int {
	start := sc.pos
	for sc.pos < len(sc.s) && isSpace(sc.s[sc.pos]) {
		sc.pos++
	}
	return sc.pos - start
}

func (sc *scanner) done() bool { return sc.pos == len(sc.s) }

// parseGroup reads terms separated by spaces or a comma; "A - B" (spaces
// around the hyphen) is the range >= A, <= B.
func parseGroup(group string) ([]term, error) {
	sc := &scanner{s: group}
	var terms []term
	sc.spaces()
	for {
		o, hasOp := sc.operator()
		sc.spaces()
		text, err := sc.version()
		if err != nil {
			return nil, err
		}
		spaced := sc.spaces() > 0
		if !hasOp && spaced && sc.pos < len(sc.s) && sc.s[sc.pos] == '-' && sc.pos+1 < len(sc.s) && isSpace(sc.s[sc.pos+1]) {
			sc.pos++
			sc.spaces()
			upper, err := sc.version()
			if err != nil {
				return nil, err
			}
			lo, err := newTerm(opGreaterEqual, text)
			if err != nil {
				return nil, err
			}
			hi, err := newTerm(opLessEqual, upper)
			if err != nil {
				return nil, err
			}
			terms = append(terms, lo, hi)
			spaced = sc.spaces() > 0
		} else {
			t, err := newTerm(o, text)
			if err != nil {
				return nil, err
			}
			terms = append(terms, t)
		}
		if sc.done() {
			return terms, nil
		}
		switch {
		case sc.s[sc.pos] == ',':
			sc.pos++
			sc.spaces()
		case !spaced:
			return nil, fmt.Errorf("unexpected %q after a version: separate terms with a space or a comma", sc.s[sc.pos:sc.pos+1])
		}
		if sc.done() {
			return nil, errors.New("ends with a separator")
		}
	}
}

func (sc *scanner) operator() (op, bool) {
	for _, o := range operators {
		if strings.HasPrefix(sc.s[sc.pos:], o.text) {
			sc.pos += len(o.text)
			return o.op, true
		}
	}
	return opEqual, false
}

// version reads a constraint's version text: v?N(.N(.N)?)?(-pre)?(+build)?,
// each N digits or a wildcard (x, X, *).
func (sc *scanner) version() (string, error) {
	start := sc.pos
	if sc.pos < len(sc.s) && sc.s[sc.pos] == 'v' {
		sc.pos++
	}
	for part := 0; part < 3; part++ {
		if part > 0 {
			if sc.pos >= len(sc.s) || sc.s[sc.pos] != '.' {
				break
			}
			sc.pos++
		}
		n := sc.pos
		for sc.pos < len(sc.s) && isVersionPart(sc.s[sc.pos]) {
			sc.pos++
		}
		if sc.pos == n {
			if sc.pos < len(sc.s) {
				return "", fmt.Errorf("expected a version at %q", sc.s[sc.pos:])
			}
			return "", errors.New("expected a version")
		}
	}
	for _, suffix := range []struct {
		mark byte
		name string
	}{{'-', "pre-release"}, {'+', "build metadata"}} {
		if sc.pos < len(sc.s) && sc.s[sc.pos] == suffix.mark {
			sc.pos++
			n := sc.pos
			for sc.pos < len(sc.s) && (isIdentChar(sc.s[sc.pos]) || sc.s[sc.pos] == '.') {
				sc.pos++
			}
			if sc.pos == n {
				return "", fmt.Errorf("%q: empty %s", sc.s[start:sc.pos], suffix.name)
			}
		}
	}
	return sc.s[start:sc.pos], nil
}

// newTerm reads the version text of a term, wildcards and missing parts
// making it dirty.
func newTerm(o op, text string) (term, error) {
	t := term{op: o}
	rest := strings.TrimPrefix(text, "v")
	var build string
	rest, build, _ = strings.Cut(rest, "+")
	core, pre, hasPre := strings.Cut(rest, "-")
	if hasPre {
		if err := checkIdentifiers(pre, true); err != nil {
			return t, fmt.Errorf("%q: pre-release %w", text, err)
		}
	}
	if build != "" {
		if err := checkIdentifiers(build, false); err != nil {
			return t, fmt.Errorf("%q: build metadata %w", text, err)
		}
	}
	parts := strings.Split(core, ".")
	nums := make([]uint64, 3)
parts:
	for i := range 3 {
		if i >= len(parts) || isWildcard(parts[i]) {
			switch i {
			case 0:
				t.dirty = true
			case 1:
				t.dirty, t.minorDirty = true, true
			case 2:
				t.dirty, t.patchDirty = true, true
			}
			break parts
		}
		n, err := strconv.ParseUint(parts[i], 10, 64)
		if err != nil {
			return t, fmt.Errorf("%q: %q is not a number or a wildcard (x, X, *)", text, parts[i])
		}
		nums[i] = n
	}
	// Parts after a wildcard say nothing, but must still be parts.
	for _, p := range parts {
		if !isWildcard(p) && !allDigits(p) {
			return t, fmt.Errorf("%q: %q is not a number or a wildcard (x, X, *)", text, p)
		}
	}
	switch {
	case t.dirty && !t.minorDirty && !t.patchDirty:
		t.v = version{pre: pre}
	case t.minorDirty:
		t.v = version{major: nums[0], pre: pre}
	case t.patchDirty:
		t.v = version{major: nums[0], minor: nums[1], pre: pre}
	default:
		t.v = version{major: nums[0], minor: nums[1], patch: nums[2], pre: pre}
	}
	return t, nil
}

// allows is one term's answer for v (pre-releases already sorted out by
// the group).
func (t term) allows(v version) bool {
	c := t.v
	switch t.op {
	case opEqual:
		if t.dirty {
			return t.tilde(v) // 1.2.x is ~1.2
		}
		return compare(v, c) == 0
	case opNotEqual:
		if t.dirty {
			switch {
			case v.major != c.major:
				return true
			case v.minor != c.minor && !t.minorDirty:
				return true
			case t.minorDirty:
				return false
			case v.patch != c.patch && !t.patchDirty:
				return true
			case t.patchDirty:
				return (v.pre != "" || c.pre != "") && comparePre(v.pre, c.pre) != 0
			}
		}
		return compare(v, c) != 0
	case opGreater:
		switch {
		case !t.dirty:
			return compare(v, c) > 0
		case v.major != c.major:
			return v.major > c.major
		case t.minorDirty:
			return false
		case t.patchDirty:
			return v.minor > c.minor
		}
		return compare(v, c) > 0
	case opLess:
		return compare(v, c) < 0
	case opGreaterEqual:
		return compare(v, c) >= 0
	case opLessEqual:
		switch {
		case !t.dirty:
			return compare(v, c) <= 0
		case v.major > c.major:
			return false
		case v.major == c.major && v.minor > c.minor && !t.minorDirty:
			return false
		}
		return true
	case opTilde:
		return t.tilde(v)
	case opCaret:
		switch {
		case compare(v, c) < 0:
			return false
		case c.major > 0 || t.minorDirty:
			return v.major == c.major
		case v.major > 0:
			return false
		case c.minor > 0 || t.patchDirty:
			return v.minor == c.minor
		case v.minor > 0:
			return false
		}
		return v.patch == c.patch
	}
	return false
}

// tilde: from the term's version up to its next minor (or major, when the
// minor is open); ~0.0.0 and ~* take everything.
func (t term) tilde(v version) bool {
	c := t.v
	switch {
	case compare(v, c) < 0:
		return false
	case c.major == 0 && c.minor == 0 && c.patch == 0 && !t.minorDirty && !t.patchDirty:
		return true
	case v.major != c.major:
		return false
	}
	return v.minor == c.minor || t.minorDirty
}

func isSpace(b byte) bool {
	return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\f' || b == '\v'
}

func isVersionPart(b byte) bool { return b >= '0' && b <= '9' || b == 'x' || b == 'X' || b == '*' }

func isIdentChar(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b == '-'
}

func isWildcard(p string) bool { return p == "x" || p == "X" || p == "*" }

func allDigits(p string) bool {
	if p == "" {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
	}
	return true
}

// checkIdentifiers checks dot-separated identifiers: none empty, and for a
// pre-release no numeric one with a leading zero.
func checkIdentifiers(s string, pre bool) error {
	for _, id := range strings.Split(s, ".") {
		switch {
		case id == "":
			return errors.New("has an empty identifier")
		case pre && allDigits(id) && len(id) > 1 && id[0] == '0':
			return fmt.Errorf("identifier %q has a leading zero", id)
		}
		for i := 0; i < len(id); i++ {
			if !isIdentChar(id[i]) {
				return fmt.Errorf("identifier %q has a character outside [0-9A-Za-z-]", id)
			}
		}
	}
	return nil
}
