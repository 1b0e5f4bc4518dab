package constraint

import (
	"fmt"
	"math/rand/v2"
	"strings"

	masterminds "github.com/Masterminds/semver/v3"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// reference is the answer of Masterminds/semver v3, whose syntax and
// answers this package keeps: (parsed, allowed).
func reference(constraint, version string) (bool, bool) {
	c, err := masterminds.NewConstraint(constraint)
	if err != nil {
		return false, false
	}
	v, err := masterminds.StrictNewVersion(version)
	return true, err == nil && c.Check(v)
}

func allows(constraint, version string) bool {
	set, err := Parse(constraint)
	Expect(err).NotTo(HaveOccurred(), "parsing %q", constraint)
	return set.Allows(version)
}

var preReleases = []string{"", "", "", "alpha", "alpha.1", "alpha.beta", "beta", "beta.2", "beta.11", "rc.1", "1", "0", "x-y"}

func randomPart(r *rand.Rand, wildcards bool) string {
	if wildcards && r.IntN(5) == 0 {
		return []string{"x", "X", "*"}[r.IntN(3)]
	}
	return fmt.Sprint(r.IntN(4))
}

// randomConstraintVersion is a version as constraints write it: 1 to 3
// parts, wildcards, an optional v and pre-release.
func randomConstraintVersion(r *rand.Rand) string {
	n := 1 + r.IntN(3)
	parts := make([]string, n)
	for i := range parts {
		parts[i] = randomPart(r, true)
	}
	s := strings.Join(parts, ".")
	if r.IntN(8) == 0 {
		s = "v" + s
	}
	if pre := preReleases[r.IntN(len(preReleases))]; pre != "" && r.IntN(2) == 0 {
		s += "-" + pre
	}
	return s
}

func randomConstraint(r *rand.Rand) string {
	ops := []string{"", "=", "!=", ">", "<", ">=", "=>", "<=", "=<", "~", "~>", "^"}
	seps := []string{" ", ", ", ",", "  ", " , "}
	groups := make([]string, 1+r.IntN(3))
	startsWithRange := make([]bool, len(groups))
	for g := range groups {
		terms := make([]string, 1+r.IntN(3))
		for i := range terms {
			if r.IntN(6) == 0 {
				terms[i] = randomConstraintVersion(r) + " - " + randomConstraintVersion(r)
				startsWithRange[g] = startsWithRange[g] || i == 0
				continue
			}
			space := []string{"", " "}[r.IntN(2)]
			terms[i] = ops[r.IntN(len(ops))] + space + randomConstraintVersion(r)
		}
		s := terms[0]
		for i, t := range terms[1:] {
			sep := seps[r.IntN(len(seps))]
			// Masterminds/semver refuses a range after a term and spaces
			// alone (its own spec below); a comma it takes.
			if strings.Contains(t, " - ") && !strings.Contains(terms[i], " - ") && !strings.Contains(sep, ",") {
				sep = ", "
			}
			s += sep + t
		}
		groups[g] = s
	}
	s := groups[0]
	for g, group := range groups[1:] {
		// Masterminds/semver misreads a range next to a bare || (its own
		// spec below); this package reads it as a range.
		if strings.Contains(groups[g], " - ") || startsWithRange[g+1] || r.IntN(2) == 0 {
			s += " || " + group
		} else {
			s += "||" + group
		}
	}
	return s
}

func randomVersion(r *rand.Rand) string {
	s := fmt.Sprintf("%d.%d.%d", r.IntN(4), r.IntN(4), r.IntN(4))
	if pre := preReleases[r.IntN(len(preReleases))]; pre != "" {
		s += "-" + pre
	}
	return s
}

var _ = Describe("semver constraints", func() {
	DescribeTable("answers as the documented syntax says",
		func(constraint, version string, want bool) {
			Expect(allows(constraint, version)).To(Equal(want))
			_, ref := reference(constraint, version)
			Expect(ref).To(Equal(want), "Masterminds/semver agrees")
		},
		Entry("a bare version is =", "1.2.3", "1.2.3", true),
		Entry("a bare version is =, not more", "1.2.3", "1.2.4", false),
		Entry("~1.4 takes the 1.4 patches", "~1.4", "1.4.9", true),
		Entry("~1.4 stops before 1.5", "~1.4", "1.5.0", false),
		Entry("~1.2.3 starts at 1.2.3", "~1.2.3", "1.2.2", false),
		Entry("^1.2 takes the 1.x minors", "^1.2", "1.9.0", true),
		Entry("^1.2 stops before 2", "^1.2", "2.0.0", false),
		Entry("^0.2.3 stays in 0.2", "^0.2.3", "0.3.0", false),
		Entry("^0.0.3 is exactly 0.0.3", "^0.0.3", "0.0.4", false),
		Entry("1.2.x is the 1.2 line", "1.2.x", "1.2.7", true),
		Entry("1.x is the 1 line", "1.x", "2.0.0", false),
		Entry("* is every release", "*", "7.3.1", true),
		Entry("and with a comma", ">= 1.2, < 2", "1.9.9", true),
		Entry("and with a space", ">=1.2 <2", "2.0.0", false),
		Entry("or", "~1.4 || ^3", "3.1.0", true),
		Entry("a hyphen range is inclusive", "1.2 - 1.4.5", "1.4.5", true),
		Entry("a hyphen range ends at its upper bound", "1.2 - 1.4.5", "1.4.6", false),
		Entry("> 1.2 with a wildcard patch wants a higher minor", ">1.2", "1.2.5", false),
		Entry("<= 2.x takes all of 2", "<=2.x", "2.9.9", true),
		Entry("!= 1.2.x leaves out the line", "!=1.2.x", "1.2.3", false),
		Entry("a pre-release is not offered by a release constraint", ">=1.0", "1.5.0-rc.1", false),
		Entry("a pre-release constraint offers pre-releases", ">=1.5.0-rc.1", "1.5.0-rc.2", true),
		Entry("pre-releases sort before their release", "<1.5.0-0", "1.5.0-rc.1", false),
		Entry("numeric identifiers sort by value", ">1.0.0-beta.2", "1.0.0-beta.11", true),
		Entry("a pre-release group opens pre-releases in that group only", "^2 || >=1.0.0-rc.1 <1.1", "2.1.0-rc.1", false),
		Entry("a v prefix in the constraint", "v1.2.3", "1.2.3", true),
		Entry("leading zeros in the constraint are read as numbers", "01.2.3", "1.2.3", true),
		Entry("a version that is not strict semver is never in", ">=1", "1.2", false),
	)

	It("gives Masterminds/semver's answer for 20,000 random constraints and versions", func() {
		r := rand.New(rand.NewPCG(7, 11))
		for range 2000 {
			constraint := randomConstraint(r)
			set, err := Parse(constraint)
			parsed, _ := reference(constraint, "1.0.0")
			Expect(err == nil).To(Equal(parsed), "parsing %q: ours %v", constraint, err)
			if err != nil {
				continue
			}
			for range 10 {
				v := randomVersion(r)
				_, want := reference(constraint, v)
				Expect(set.Allows(v)).To(Equal(want), "%q allows %q", constraint, v)
			}
		}
	})

	It("reads a hyphen range next to a bare || as a range, where Masterminds/semver misreads it", func() {
		Expect(allows("1||2 - 3", "2.5.0")).To(BeTrue())
		Expect(allows("1||2 - 3", "4.0.0")).To(BeFalse())
		_, ref := reference("1||2 - 3", "4.0.0")
		Expect(ref).To(BeTrue(), "Masterminds/semver reads >= 1||2, <= 3")

		Expect(allows("1 - 2.*||1.1.0", "1.1.0")).To(BeTrue())
		parsed, _ := reference("1 - 2.*||1.1.0", "1.1.0")
		Expect(parsed).To(BeFalse(), "Masterminds/semver reads the upper bound as 2.*||1")
	})

	It("reads a hyphen range after a term and a space, which Masterminds/semver refuses", func() {
		Expect(allows(">=1.1 1.0 - 1.4", "1.2.0")).To(BeTrue())
		Expect(allows(">=1.1 1.0 - 1.4", "1.0.5")).To(BeFalse())
		parsed, _ := reference(">=1.1 1.0 - 1.4", "1.2.0")
		Expect(parsed).To(BeFalse())
	})

	DescribeTable("refuses what is not a constraint, as Masterminds/semver does",
		func(constraint string) {
			_, err := Parse(constraint)
			Expect(err).To(HaveOccurred())
			parsed, _ := reference(constraint, "1.0.0")
			Expect(parsed).To(BeFalse(), "Masterminds/semver refuses it too")
		},
		Entry("empty", ""),
		Entry("spaces", "   "),
		Entry("a word", "latest"),
		Entry("an operator alone", ">="),
		Entry("two operators", ">=<1"),
		Entry("terms run together", ">=1.0<2.0"),
		Entry("an empty group", "1.0 ||"),
		Entry("a trailing comma", ">= 1,"),
		Entry("four parts", "1.2.3.4"),
		Entry("a part that is neither number nor wildcard", "1.2y"),
		Entry("an empty pre-release", "1.2.3-"),
		Entry("an empty pre-release identifier", "1.2.3-a..b"),
		Entry("a pre-release identifier with a leading zero", "1.2.3-01"),
		Entry("an operator before a range", ">=1 - 2"),
		Entry("too long", strings.Repeat("1.0.0 ", 100)),
		Entry("too many groups", strings.Repeat("1 || ", 32)+"1"),
	)
})
