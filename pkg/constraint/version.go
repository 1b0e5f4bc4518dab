package constraint

import "strings"

// version is a parsed semantic version; build metadata never orders.
type version struct {
	major, minor, patch uint64
	pre                 string
}

// parseStrict reads MAJOR.MINOR.PATCH[-PRE][+BUILD] as semver 2.0.0 has it:
// no "v", no missing part, no leading zero.
func parseStrict(s string) (version, bool) {
	s, build, hasBuild := strings.Cut(s, "+")
	if hasBuild && checkIdentifiers(build, false) != nil {
		return version{}, false
	}
	core, pre, hasPre := strings.Cut(s, "-")
	if hasPre && checkIdentifiers(pre, true) != nil {
		return version{}, false
	}
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return version{}, false
	}
	var nums [3]uint64
	for i, p := range parts {
		n, ok := number(p)
		if !ok {
			return version{}, false
		}
		nums[i] = n
	}
	return version{major: nums[0], minor: nums[1], patch: nums[2], pre: pre}, true
}

// number reads a numeric part without a leading zero that fits 64 bits.
func number(p string) (uint64, bool) {
	if !allDigits(p) || len(p) > 1 && p[0] == '0' {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(p); i++ {
		d := uint64(p[i] - '0')
		if n > (^uint64(0)-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// compare orders versions by semver precedence: a pre-release sorts before
// its release.
func compare(a, b version) int {
	for _, d := range [][2]uint64{{a.major, b.major}, {a.minor, b.minor}, {a.patch, b.patch}} {
		switch {
		case d[0] < d[1]:
			return -1
		case d[0] > d[1]:
			return 1
		}
	}
	switch {
	case a.pre == b.pre:
		return 0
	case a.pre == "":
		return 1
	case b.pre == "":
		return -1
	}
	return comparePre(a.pre, b.pre)
}

// comparePre orders pre-releases identifier by identifier: numeric ones by
// value and before alphanumeric ones, those by ASCII; a shorter list that is
// a prefix of a longer sorts first.
func comparePre(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		switch {
		case i >= len(as):
			return -1
		case i >= len(bs):
			return 1
		}
		if d := compareIdentifier(as[i], bs[i]); d != 0 {
			return d
		}
	}
	return 0
}

func compareIdentifier(a, b string) int {
	an, bn := allDigits(a), allDigits(b)
	switch {
	case a == b:
		return 0
	case an && bn:
		// Numbers without leading zeros: the longer is larger.
		if len(a) != len(b) {
			if len(a) < len(b) {
				return -1
			}
			return 1
		}
	case an:
		return -1
	case bn:
		return 1
	}
	if a < b {
		return -1
	}
	return 1
}
