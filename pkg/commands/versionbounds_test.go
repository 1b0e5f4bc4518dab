package commands

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("version numbers", func() {
	DescribeTable("below 9223372036854775807 are read",
		func(in string) {
			Expect(parseVersion("params.version", in)).To(Equal(in))
		},
		Entry("the largest patch", "1.0.9223372036854775806"),
		Entry("the largest major, minor and patch", "9223372036854775806.9223372036854775806.9223372036854775806"),
		Entry("with a pre-release", "1.0.9223372036854775806-rc.1"),
		Entry("a pre-release number of any size", "1.0.0-rc.99999999999999999999999"),
	)

	DescribeTable("not below 9223372036854775807 are refused when read, so the next patch never wraps around",
		func(in, want string) {
			_, err := parseVersion("params.version", in)
			Expect(err).To(MatchError(want))
		},
		Entry("the patch", "1.0.9223372036854775807",
			`params.version: "1.0.9223372036854775807": patch 9223372036854775807 is too large: major, minor and patch must each be below 9223372036854775807`),
		Entry("the minor", "1.9223372036854775807.0",
			`params.version: "1.9223372036854775807.0": minor 9223372036854775807 is too large: major, minor and patch must each be below 9223372036854775807`),
		Entry("the major, past uint64", "99999999999999999999.0.0",
			`params.version: "99999999999999999999.0.0": major 99999999999999999999 is too large: major, minor and patch must each be below 9223372036854775807`),
		Entry("the patch of a pre-release", "1.0.9223372036854775808-rc.1",
			`params.version: "1.0.9223372036854775808-rc.1": patch 9223372036854775808 is too large: major, minor and patch must each be below 9223372036854775807`),
	)

	It("never chooses a next patch that would itself be too large", func() {
		_, err := nextPatch([]string{"1.0.0", "1.0.9223372036854775806"})
		Expect(err).To(MatchError("publishing without a version: the next patch would be 1.0.9223372036854775807, and patch 9223372036854775807 is too large (major, minor and patch must each be below 9223372036854775807): give params.version"))
	})

	It("refuses, rather than wraps around or starts over, when the highest listed version is too large", func() {
		_, err := nextPatch([]string{"1.0.5", "1.0.9223372036854775807"})
		Expect(err).To(MatchError("the next patch after 1.0.9223372036854775807 would overflow: publish with an explicit version"))
		_, err = nextPatch([]string{"99999999999999999999.0.0"})
		Expect(err).To(MatchError(ContainSubstring("major 99999999999999999999 is too large")))
	})
})
