package commands

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("versions", func() {
	DescribeTable("reading a version",
		func(in, want, wantErr string) {
			got, err := parseVersion("params.version", in)
			if wantErr != "" {
				Expect(err).To(MatchError(ContainSubstring(wantErr)))
				return
			}
			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(Equal(want))
		},
		Entry("a release", "1.4.2", "1.4.2", ""),
		Entry("with spaces and a newline from a file", " 1.4.2\n", "1.4.2", ""),
		Entry("a pre-release", "2.0.0-rc.1", "2.0.0-rc.1", ""),
		Entry("banana", "banana", "", `"banana" is not a semantic version`),
		Entry("a shorthand", "1.2", "", `"1.2" is not a semantic version`),
		Entry("a v prefix", "v1.2.3", "", `"v1.2.3" is not a semantic version`),
		Entry("leading zeros", "01.2.3", "", "is not a semantic version"),
		Entry("build metadata", "1.0.0+build.5", "", "has build metadata (+build.5)"),
	)

	DescribeTable("choosing the next version",
		func(claimed []string, want string) {
			Expect(nextVersion(claimed)).To(Equal(want))
		},
		Entry("in an empty store", nil, "0.1.0"),
		Entry("after the highest, not the last listed", []string{"1.0.10", "1.0.9"}, "1.0.11"),
		Entry("after a pre-release: its release", []string{"0.9.0", "1.0.0-rc.2"}, "1.0.0"),
		Entry("ignoring junk", []string{"junk", "0.1.0"}, "0.1.1"),
	)

	It("refuses a next patch that would be too large", func() {
		_, err := nextPatch([]string{"1.0.9223372036854775806"})
		Expect(err).To(MatchError(ContainSubstring("the next patch would be 1.0.9223372036854775807, and patch 9223372036854775807 is too large")))
	})
})
