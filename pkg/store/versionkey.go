package store

import (
	"errors"
	"fmt"
	"strings"
)

// Version keys: a semantic version written so that byte order is semver
// order, pre-releases included, so that a listing from a version's key on
// (StartAfter) holds exactly that version and every higher one.
//
//	number      a length letter ('a' = 1 digit … 's' = 19) then the digits: 9 < 10 as "a9" < "b10"
//	release     major minor patch, then '~'                 1.4.2       → a1a4a2~
//	pre-release major minor patch, then '-', each identifier, then '.'
//	            numeric identifier:  '0' number '!'          1.4.2-rc.1  → a1a4a2-1rc!0a1!.
//	            other identifier:    '1' text '!'
//
// Why it sorts: '-' < '~' puts every pre-release before its release; a
// numeric identifier ('0') sorts before an alphanumeric one ('1'); '!' ends an
// identifier and is below every identifier character, so "a" < "a-b"; '.'
// ends the list and is below both markers, so fewer identifiers sort first.
// No encoding is a prefix of another, which is what lets the descending form
// (descendingKey) reverse the order character by character.

// maxNumberDigits bounds each number: 19 digits, and below MaxInt64 so that
// the next patch always fits (the version parser enforces the value).
const maxNumberDigits = 19

// keyOf is VersionKey for a version the store is asked to read or write:
// one that is not a semantic version is an error naming it.
func keyOf(version string) (string, error) {
	vk, ok := VersionKey(version)
	if !ok {
		return "", fmt.Errorf("%q is not a semantic version", version)
	}
	return vk, nil
}

// VersionKey encodes a strict semantic version (no build metadata); ok is
// false when v is not one.
func VersionKey(v string) (string, bool) {
	core, pre, hasPre := strings.Cut(v, "-")
	nums := strings.Split(core, ".")
	if len(nums) != 3 {
		return "", false
	}
	var b strings.Builder
	for _, n := range nums {
		if !writeNumber(&b, n) {
			return "", false
		}
	}
	if !hasPre {
		b.WriteByte('~')
		return b.String(), true
	}
	b.WriteByte('-')
	for _, id := range strings.Split(pre, ".") {
		if id == "" {
			return "", false
		}
		if isDigits(id) {
			b.WriteByte('0')
			if !writeNumber(&b, id) {
				return "", false
			}
		} else {
			for i := 0; i < len(id); i++ {
				if c := id[i]; !isIdentChar(c) {
					return "", false
				}
			}
			b.WriteByte('1')
			b.WriteString(id)
		}
		b.WriteByte('!')
	}
	b.WriteByte('.')
	return b.String(), true
}

// ParseVersionKey decodes what VersionKey wrote.
func ParseVersionKey(key string) (string, error) {
	bad := errors.New("not a version key")
	k := key
	var b strings.Builder
	for i := 0; i < 3; i++ {
		n, rest, ok := readNumber(k)
		if !ok {
			return "", bad
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(n)
		k = rest
	}
	switch {
	case k == "~":
		k = ""
	case !strings.HasPrefix(k, "-") || !strings.HasSuffix(k, "."):
		return "", bad
	default:
		k = k[1 : len(k)-1]
		b.WriteByte('-')
	}
	for first := true; k != ""; first = false {
		if !first {
			b.WriteByte('.')
		}
		var id string
		var ok bool
		switch k[0] {
		case '0':
			id, k, ok = readNumber(k[1:])
			if !ok || !strings.HasPrefix(k, "!") {
				return "", bad
			}
		case '1':
			end := strings.IndexByte(k, '!')
			if end < 2 {
				return "", bad
			}
			id, k = k[1:end], k[end:]
		default:
			return "", bad
		}
		b.WriteString(id)
		k = k[1:]
	}
	v := b.String()
	if again, ok := VersionKey(v); !ok || again != key {
		return "", bad
	}
	return v, nil
}

func writeNumber(b *strings.Builder, n string) bool {
	if n == "" || len(n) > maxNumberDigits || !isDigits(n) || (len(n) > 1 && n[0] == '0') {
		return false
	}
	b.WriteByte(byte('a' + len(n) - 1))
	b.WriteString(n)
	return true
}

func readNumber(k string) (n, rest string, ok bool) {
	if k == "" || k[0] < 'a' || k[0] >= 'a'+maxNumberDigits {
		return "", "", false
	}
	l := int(k[0]-'a') + 1
	if len(k) < 1+l || !isDigits(k[1:1+l]) {
		return "", "", false
	}
	return k[1 : 1+l], k[1+l:], true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func isIdentChar(c byte) bool {
	return c == '-' || ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

// keyAlphabet is every character a version key uses, in byte order.
const keyAlphabet = "!-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz~"

// descendingKey maps each character of a version key to its mirror in
// keyAlphabet, reversing byte order: the highest version lists first, so one
// listing of one key finds it. It is its own inverse.
// A character outside the alphabet (a key written by someone else) maps to
// '?', which no version key holds.
func descendingKey(k string) string {
	b := []byte(k)
	for i, c := range b {
		if j := strings.IndexByte(keyAlphabet, c); j >= 0 {
			b[i] = keyAlphabet[len(keyAlphabet)-1-j]
		} else {
			b[i] = '?'
		}
	}
	return string(b)
}

// startAt is the StartAfter value that lists key itself and everything after
// it: key with its last character lowered by one. No other key of the same
// kind lies between the two, since version keys end in '~' or '.' and neither
// '}' nor '-' can follow the character before.
func startAt(key string) string {
	if key == "" {
		return ""
	}
	return key[:len(key)-1] + string(key[len(key)-1]-1)
}
